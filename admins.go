package chatr

import "strings"

// Admins names the server's administrators (--admins, CHATR_ADMINS) by user
// id or by @handle. The zero value names nobody.
type Admins struct {
	ids     map[string]bool
	handles map[string]bool
}

// ParseAdmins reads a comma- or space-separated list of user ids
// ("github:123", "guest:k3j2") and handles ("@alice" or "alice"). An entry
// with a colon is an id, anything else a handle.
func ParseAdmins(list string) Admins {
	a := Admins{ids: map[string]bool{}, handles: map[string]bool{}}
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		if strings.Contains(f, ":") {
			a.ids[f] = true
		} else if h := NormalHandle(f); h != "" {
			a.handles[h] = true
		}
	}
	return a
}

// Has reports whether u is an administrator.
func (a Admins) Has(u User) bool {
	return a.ids[u.ID] || (u.Handle != "" && a.handles[NormalHandle(u.Handle)])
}

// Empty reports whether the list names nobody.
func (a Admins) Empty() bool { return len(a.ids) == 0 && len(a.handles) == 0 }

package chatr

import "testing"

func TestParseAdmins(t *testing.T) {
	a := ParseAdmins(" github:42, @Alice\nbob ")
	for _, c := range []struct {
		u    User
		want bool
	}{
		{User{ID: "github:42"}, true},
		{User{ID: "guest:x", Handle: "alice"}, true},
		{User{ID: "guest:y", Handle: "Bob"}, true},
		{User{ID: "guest:z", Handle: "carol"}, false},
		{User{ID: "github:4"}, false},
		{User{}, false},
	} {
		if got := a.Has(c.u); got != c.want {
			t.Errorf("Has(%+v) = %v, want %v", c.u, got, c.want)
		}
	}
	if !(Admins{}).Empty() || a.Empty() || (Admins{}).Has(User{ID: "github:42"}) {
		t.Error("the zero Admins must name nobody")
	}
}

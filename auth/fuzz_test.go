package auth_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
)

// FuzzCleanName: a display name that CleanName accepts is trimmed, valid
// UTF-8, 1 to max characters, free of control and format characters (no
// bidi overrides to pose as someone else), and accepted unchanged again.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"Alice", "  Bob  ", "", " ", "a\x00b", "a\u202eb", "\xff", "é", strings.Repeat("é", 33), "Z\u200dW", "\u3000x\u3000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := auth.CleanName(name, auth.DefaultMaxNameLength)
		if err != nil {
			if chatr.ErrorCode(err) != chatr.EINVALID {
				t.Fatalf("CleanName(%q): %v, want EINVALID", name, err)
			}
			return
		}
		if got == "" || got != strings.TrimSpace(got) || !utf8.ValidString(got) || utf8.RuneCountInString(got) > auth.DefaultMaxNameLength {
			t.Fatalf("CleanName(%q) = %q", name, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("CleanName(%q) = %q keeps %U", name, got, r)
			}
		}
		if again, err := auth.CleanName(got, auth.DefaultMaxNameLength); err != nil || again != got {
			t.Fatalf("CleanName not idempotent on %q: %q, %v", got, again, err)
		}
	})
}

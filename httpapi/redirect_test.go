package httpapi_test

import (
	"testing"

	"github.com/chatr/chatr/httpapi"
)

func TestSafeRedirect(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/chat?x=1#y", "/chat?x=1#y"},
		{"https://evil.example/", "/"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"/ok\r\nSet-Cookie: x=1", "/"},
		{"evil.example", "/"},
		{"/%2f%2fevil.example", "/%2f%2fevil.example"}, // a path on this site, not a host
		{"http:/evil.example", "/"},
	} {
		if got := httpapi.SafeRedirect(tc.in); got != tc.want {
			t.Errorf("SafeRedirect(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

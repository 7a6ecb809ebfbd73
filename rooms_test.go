package chatr_test

import (
	"testing"

	"github.com/chatr/chatr"
)

func TestHandleBase(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Bob", "bob"},
		{"Octo-Cat", "octo-cat"},
		{"  Jean-Luc  Picard! ", "jean-luc_picard"},
		{"Zoë Bobson", "zo_bobson"},
		{"日本", "user"},
		{"", "user"},
		{"__x__", "x"},
		{"a.b@c", "a_b_c"},
		{"abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnopqrstuvwx"},
		{"abcdefghijklmnopqrstuvw yz", "abcdefghijklmnopqrstuvw"},
	} {
		if got := chatr.HandleBase(tt.in); got != tt.want {
			t.Errorf("HandleBase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFreeHandle(t *testing.T) {
	taken := map[string]bool{"bob": true, "bob2": true, "bob4": true}
	if got := chatr.FreeHandle("bob", taken); got != "bob3" {
		t.Errorf("FreeHandle = %q, want bob3", got)
	}
	if got := chatr.FreeHandle("ann", taken); got != "ann" {
		t.Errorf("FreeHandle = %q, want ann", got)
	}
}

func TestGroupDMID(t *testing.T) {
	a, err := chatr.GroupDMID([]string{"guest:c", "guest:a", "guest:b"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := chatr.GroupDMID([]string{"guest:b", "guest:c", "guest:a", "guest:c"})
	if a != b || len(a) != 35 {
		t.Errorf("GroupDMID: %q and %q, want one id of 35 characters", a, b)
	}
	if c := (chatr.Chat{ID: a, Private: true}).Kind(); c != chatr.KindGroupDM {
		t.Errorf("Kind = %q", c)
	}
	ten := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}
	for _, bad := range [][]string{{"a", "b"}, {"a", "a", "b"}, ten, {"a", "b", ""}} {
		if _, err := chatr.GroupDMID(bad); chatr.ErrorCode(err) != chatr.EINVALID {
			t.Errorf("GroupDMID(%q): got %v, want EINVALID", bad, err)
		}
	}
}

func TestApplyChatUpdate(t *testing.T) {
	c := chatr.Chat{ID: "g", Name: "General", Visibility: chatr.VisibilityPublic, InvitePolicy: chatr.InviteByMembers}
	topic := "hi"
	changed, err := chatr.ApplyChatUpdate(&c, chatr.ChatUpdate{Topic: &topic})
	if err != nil || changed || c.Topic != "hi" {
		t.Errorf("topic only: changed %v, %v, %+v", changed, err, c)
	}
	private := chatr.VisibilityPrivate
	if changed, err := chatr.ApplyChatUpdate(&c, chatr.ChatUpdate{Visibility: &private}); err != nil || !changed {
		t.Errorf("visibility: changed %v, %v", changed, err)
	}
	dm := chatr.Chat{ID: "private_a_b", Name: "x", Private: true, Visibility: chatr.VisibilityPrivate, InvitePolicy: chatr.InviteByMembers}
	public := chatr.VisibilityPublic
	if _, err := chatr.ApplyChatUpdate(&dm, chatr.ChatUpdate{Visibility: &public}); chatr.ErrorCode(err) != chatr.EINVALID {
		t.Errorf("a public DM: got %v, want EINVALID", err)
	}
}

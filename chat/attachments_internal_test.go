package chat

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chatr/chatr"
)

// The original client renders a message's text as HTML: it gets the file
// names and links as escaped text, never markup; every other client gets
// the files as data and the text as written.
func TestFilesForClientsThatRenderHTML(t *testing.T) {
	out := chatMessage{Message: "see <b>this</b>", FromUserName: "Alice", Files: attachments{
		{ID: "f1", URL: "/api/files/f1", Name: `<img src=x onerror=alert(1)>.png`, Type: "image/png"},
		{ID: "f2", URL: "/api/files/f2", Name: "notes.txt", Type: "text/plain"},
	}}
	plain, htmlVariant := chatPayloads(out)
	var got struct {
		Message string
		Files   []chatr.Attachment
	}
	if err := json.Unmarshal(plain.Data, &got); err != nil || got.Message != out.Message || len(got.Files) != 2 || got.Files[0].Name != out.Files[0].Name {
		t.Fatalf("plain payload %s (%v)", plain.Data, err)
	}
	if htmlVariant == nil {
		t.Fatal("no variant for HTML clients")
	}
	if err := json.Unmarshal(htmlVariant.Data, &got); err != nil {
		t.Fatal(err)
	}
	want := "see &lt;b&gt;this&lt;/b&gt;\n&lt;img src=x onerror=alert(1)&gt;.png /api/files/f1\nnotes.txt /api/files/f2"
	if got.Message != want {
		t.Errorf("HTML clients' text %q, want %q", got.Message, want)
	}
	if strings.Contains(got.Message, "<") {
		t.Errorf("HTML clients' text %q holds markup", got.Message)
	}
}

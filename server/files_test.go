package server_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

// upload posts one file to the chat and decodes the answer.
func upload(t *testing.T, c *user, chatID, name string, data []byte) (int, map[string]any) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	pw, _ := mw.CreateFormFile("file", name)
	pw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", c.Base+"/api/chats/"+chatID+"/files", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("upload %s: status %d, answer not JSON: %v", name, resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// get fetches a path and returns its status, headers and body.
func get(t *testing.T, c *user, path string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := c.HTTP.Get(c.Base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func pngImage(t *testing.T, w, h int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = byte(i * 7)
	}
	m.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// blobFiles lists the files under dir that are blobs (not the temporary
// folder's).
func blobFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	return out
}

// eventually waits for cond, polling.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type fileEnv struct {
	n                  *node
	dir                string
	alice, bob, carol  *user
	ca, cb             *wsclient.Conn
	group, privateChat string
}

// newFileEnv starts a node where Alice and Bob share the chat "team" and
// a private chat; Carol is in neither.
func newFileEnv(t *testing.T, files server.Files) *fileEnv {
	dir := filepath.Join(t.TempDir(), "blobs")
	files.Dir = dir
	e := &fileEnv{n: startNode(t, server.Config{Files: files}), dir: dir, group: "team"}
	e.alice, e.bob, e.carol = e.n.Guest("Alice"), e.n.Guest("Bob"), e.n.Guest("Carol")
	e.ca, e.cb = e.alice.Connect(wsclient.JSON), e.bob.Connect(wsclient.JSON)
	mustAck(t, e.ca, "createChat", map[string]string{"name": "Team", "id": "team"})
	mustAck(t, e.ca, "joinChat", "team")
	mustAck(t, e.cb, "joinChat", "team")
	mustAck(t, e.ca, "createPrivateChat", map[string]string{"targetUserId": e.bob.ID})
	e.privateChat = chatr.PrivateChatID(e.alice.ID, e.bob.ID)
	return e
}

func TestUploadAndDownloadOnlyByMembers(t *testing.T) {
	e := newFileEnv(t, server.Files{})
	img := pngImage(t, 300, 200)
	for _, chatID := range []string{e.group, e.privateChat} {
		st, f := upload(t, e.alice, chatID, "../../etc/holiday.png", img)
		if st != 201 {
			t.Fatalf("upload to %s: %d %v", chatID, st, f)
		}
		if f["name"] != "holiday.png" || f["type"] != "image/png" || f["size"] != float64(len(img)) ||
			f["url"] != "/api/files/"+f["id"].(string) || f["thumbUrl"] == nil || f["width"] != float64(300) {
			t.Errorf("upload answer %v", f)
		}
		url := f["url"].(string)
		st, h, body := get(t, e.bob, url)
		if st != 200 || !bytes.Equal(body, img) {
			t.Fatalf("member GET %s: %d, %d bytes", url, st, len(body))
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(h.Get("Content-Security-Policy"), "sandbox") ||
			h.Get("Content-Type") != "image/png" || !strings.HasPrefix(h.Get("Content-Disposition"), "inline") {
			t.Errorf("image headers %v", h)
		}
		if st, _, body := get(t, e.bob, f["thumbUrl"].(string)); st != 200 || !bytes.HasPrefix(body, []byte("\x89PNG")) && !bytes.HasPrefix(body, []byte("\xff\xd8")) {
			t.Errorf("thumbnail: %d %q", st, body[:min(8, len(body))])
		}
		// Anyone else gets 404, exactly as for a file that does not exist.
		for _, path := range []string{url, f["thumbUrl"].(string), "/api/files/nosuchfile"} {
			st, _, body := get(t, e.carol, path)
			if st != 404 || !json.Valid(body) {
				t.Errorf("non-member GET %s: %d %s, want 404 JSON", path, st, body)
			}
		}
		if st, _, _ := get(t, anon(t, e.n.Base), url); st != 401 {
			t.Errorf("signed-out GET: %d, want 401", st)
		}
		if st, out := upload(t, e.carol, chatID, "x.txt", []byte("hi")); st != 404 {
			t.Errorf("non-member upload: %d %v, want 404", st, out)
		}
	}

	// The server, not the name or the client, decides what a file is:
	// markup is never served inline.
	for name, data := range map[string]string{
		"page.png":  "<!DOCTYPE html><html><script>alert(1)</script></html>",
		"logo.svg":  `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`,
		"notes.txt": "plain words",
	} {
		st, f := upload(t, e.alice, e.group, name, []byte(data))
		if st != 201 {
			t.Fatalf("upload %s: %d %v", name, st, f)
		}
		_, h, _ := get(t, e.bob, f["url"].(string))
		ct := h.Get("Content-Type")
		if !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") || !strings.Contains(h.Get("Content-Disposition"), name) ||
			strings.Contains(ct, "html") || strings.Contains(ct, "svg") {
			t.Errorf("%s served as %q, %q", name, ct, h.Get("Content-Disposition"))
		}
	}
}

func TestUploadLimitsLeaveNothingBehind(t *testing.T) {
	e := newFileEnv(t, server.Files{MaxUploadBytes: 100 << 10, QuotaBytes: 150 << 10, UploadsPerMinute: 4})
	big := bytes.Repeat([]byte("x"), 100<<10+1)
	st, out := upload(t, e.alice, e.group, "big.bin", big)
	if st != 413 || out["error"] != chatr.ELIMIT || out["message"] == "" {
		t.Errorf("too large: %d %v, want 413 JSON", st, out)
	}
	st, out = upload(t, e.alice, e.group, "a.bin", bytes.Repeat([]byte("a"), 90<<10))
	if st != 201 {
		t.Fatalf("upload within limits: %d %v", st, out)
	}
	// 90 KiB used of 150: another 90 does not fit.
	if st, out := upload(t, e.alice, e.group, "b.bin", bytes.Repeat([]byte("b"), 90<<10)); st != 413 || !strings.Contains(out["message"].(string), "quota") {
		t.Errorf("over quota: %d %v, want 413 naming the quota", st, out)
	}
	// Four uploads a minute: the fourth attempt is refused, refused ones
	// counted.
	if st, out := upload(t, e.alice, e.group, "c.txt", []byte("c")); st != 201 {
		t.Errorf("fourth upload: %d %v", st, out)
	}
	if st, out := upload(t, e.alice, e.group, "d.txt", []byte("d")); st != 429 || out["error"] != chatr.ELIMIT {
		t.Errorf("fifth upload in a minute: %d %v, want 429 JSON", st, out)
	}
	// Bob shares the address (the limit per address holds him too).
	if st, _ := upload(t, e.bob, e.group, "e.txt", []byte("e")); st != 429 {
		t.Errorf("upload from the same address: %d, want 429", st)
	}
	// Only the two accepted files are kept: blobs and rows.
	blobs := blobFiles(t, e.dir)
	if len(blobs) != 2 {
		t.Errorf("blobs after refusals: %v, want the two accepted files", blobs)
	}
}

func TestMessagesCarryFiles(t *testing.T) {
	e := newFileEnv(t, server.Files{SweepEvery: 50 * time.Millisecond, SweepGrace: 2 * time.Second})
	_, img := upload(t, e.alice, e.group, "cat.png", pngImage(t, 64, 48))
	_, doc := upload(t, e.alice, e.group, "report <b>.txt", []byte("numbers"))
	_, other := upload(t, e.alice, e.privateChat, "private.txt", []byte("secret"))
	_, bobs := upload(t, e.bob, e.group, "bob.txt", []byte("bob's"))
	send := func(c *wsclient.Conn, text string, ids ...any) map[string]any {
		return map[string]any{"type": "sendToGroup", "group": e.group, "dataType": "json",
			"data": map[string]any{"message": text, "files": ids}}
	}
	for _, tc := range []struct {
		why  string
		ids  []any
		want string
	}{
		{"another user's file", []any{bobs["id"]}, "Forbidden"},
		{"another chat's file", []any{other["id"]}, "NotFound"},
		{"no such file", []any{"nofile"}, "NotFound"},
		{"repeated", []any{img["id"], img["id"]}, "BadRequest"},
		{"too many", []any{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"}, "BadRequest"},
		{"not ids", []any{map[string]any{"id": img["id"]}}, "BadRequest"},
	} {
		if got := ackError(t, e.ca, send(e.ca, tc.why, tc.ids...)); got != tc.want {
			t.Errorf("files of %s: ack %q, want %q", tc.why, got, tc.want)
		}
	}

	// Text may be empty when files are carried.
	f, err := e.ca.Call(send(e.ca, "", img["id"], doc["id"]))
	if err != nil || !f.Success {
		t.Fatalf("send with files: %+v %v", f, err)
	}
	var got struct {
		Message string
		ID      int64
		Files   []chatr.Attachment
	}
	_, err = e.cb.WaitFor(5*time.Second, func(f wsclient.Frame) bool {
		return f.Type == "message" && f.Group == e.group && json.Unmarshal(f.Data, &got) == nil && len(got.Files) > 0
	})
	if err != nil {
		t.Fatalf("bob did not get the message with files: %v", err)
	}
	if len(got.Files) != 2 || got.Files[0].ID != img["id"] || got.Files[0].ThumbURL == "" || got.Files[0].Width != 64 ||
		got.Files[1].Name != "report <b>.txt" || got.Files[1].URL != doc["url"] || got.Files[1].Size != 7 {
		t.Errorf("delivered files %+v", got.Files)
	}
	// A file goes with one message only.
	if name := ackError(t, e.ca, send(e.ca, "again", img["id"])); name != "BadRequest" {
		t.Errorf("a file sent twice: ack %q, want BadRequest", name)
	}

	var page struct {
		Messages []struct {
			ID    int64
			Files []chatr.Attachment
		}
	}
	if st := e.bob.Do("GET", "/api/chats/team/messages", nil, &page); st != 200 {
		t.Fatalf("history: %d", st)
	}
	found := false
	for _, m := range page.Messages {
		if m.ID == got.ID {
			found = true
			if len(m.Files) != 2 || m.Files[0] != got.Files[0] || m.Files[1] != got.Files[1] {
				t.Errorf("history files %+v, want %+v", m.Files, got.Files)
			}
		}
	}
	if !found {
		t.Fatalf("message %d not in history %+v", got.ID, page.Messages)
	}

	// Files go with their chat: rows at once, blobs at the next sweep.
	mustAck(t, e.ca, "deleteChat", e.group)
	if st, _, _ := get(t, e.alice, img["url"].(string)); st != 404 {
		t.Errorf("file of a deleted chat: %d, want 404", st)
	}
	eventually(t, "the sweep removes the deleted chat's blobs", func() bool {
		left := blobFiles(t, e.dir)
		return len(left) == 1 // the private chat's file
	})
}

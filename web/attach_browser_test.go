package web_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/chatr/chatr/server"
)

// writePNG writes a w×h PNG to a file and returns its path.
func writePNG(t *testing.T, dir, name string, w, h int) string {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, m)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// blobCount counts the stored blobs (files and thumbnails) under dir.
func blobCount(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && !strings.Contains(p, "/.tmp/") {
			n++
		}
		return nil
	})
	return n
}

func cdpCall(t *testing.T, what string, call func() error) {
	t.Helper()
	if err := call(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestBrowserFiles: files attached by button (several at once) and by
// paste upload with a progress bar each, one is cancelled; the message
// carries the rest: the image as a thumbnail that opens full size, the
// document as a card that downloads under its own name; someone outside
// the chat gets 404 for the file.
func TestBrowserFiles(t *testing.T) {
	b := newBrowser(t)
	dir := t.TempDir()
	blobs := filepath.Join(dir, "blobs")
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(dir, "chatr.db"), Files: server.Files{Dir: blobs}})
	alice, bob, carol := newUser(t, b, ts.url, "Alice"), newUser(t, b, ts.url, "Bob"), newUser(t, b, ts.url, "Carol")
	alice.signIn()
	bob.signIn()
	carol.signIn()
	createChat(alice, "Files")
	clickChat(bob, "Files") // from Browse chats: Bob is not a member yet

	picture := writePNG(t, dir, "view.png", 640, 400)
	doc := filepath.Join(dir, "report 2024.txt")
	os.WriteFile(doc, []byte("quarterly numbers\n"), 0o644)
	big := filepath.Join(dir, "big.bin")
	os.WriteFile(big, bytes.Repeat([]byte{7}, 3<<20), 0o644)

	t.Log("step: a slow upload shows its progress and is cancelled")
	{
		cdpCall(t, "enable the network domain", func() error { _, err := chromedp.Call(alice.ctx, network.Enable, network.EnableParams{}); return err })
		cdpCall(t, "slow the uploads", func() error {
			_, err := chromedp.Call(alice.ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{DownloadThroughput: -1, UploadThroughput: 256 << 10})
			return err
		})
		// The page records every progress value it shows: Chromium's
		// throttling may let the bytes go faster than the page hears of
		// them, so a poll could miss the moment a part was sent.
		alice.do("watch the progress", chromedp.Evaluate[chromedp.Void](`window.__progress = []; new MutationObserver(() => {
			const p = document.querySelector('.upload progress'); if (p) window.__progress.push([Number(p.value), Number(p.max)]);
		}).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['value'] })`))
		alice.do("choose a big file", chromedp.SetUploadFiles(chromedp.CSS(".attach-input"), []string{big}))
		alice.waitFor("its progress bar shows", `!!document.querySelector('.upload progress')`)
		if eval[bool](alice, `!!document.querySelector('.upload.is-uploading') && !document.querySelector('.send-button').disabled`) {
			t.Errorf("the send button is enabled while a file uploads")
		}
		alice.click(".upload .upload-cancel")
		alice.waitFor("the tray is empty", `!document.querySelector('.upload-tray')`)
		if got := eval[[][]float64](alice, `window.__progress`); len(got) == 0 || got[0][1] != 3<<20 {
			t.Errorf("progress shown %v, want values out of %d bytes", got, 3<<20)
		}
		cdpCall(t, "normal speed", func() error {
			_, err := chromedp.Call(alice.ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{DownloadThroughput: -1, UploadThroughput: -1})
			return err
		})
	}

	t.Log("step: two files by button, one by paste; sent with text")
	{
		alice.do("choose two files", chromedp.SetUploadFiles(chromedp.CSS(".attach-input"), []string{picture, doc}))
		alice.do("paste an image", chromedp.Evaluate[chromedp.Void](`(async () => {
			const c = document.createElement('canvas'); c.width = 50; c.height = 30;
			const g = c.getContext('2d'); g.fillStyle = '#0a0'; g.fillRect(0, 0, 50, 30);
			const blob = await new Promise((r) => c.toBlob(r, 'image/png'));
			const dt = new DataTransfer(); dt.items.add(new File([blob], 'pasted.png', { type: 'image/png' }));
			document.querySelector('#composer-input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
		})()`, awaitPromise))
		alice.waitFor("three files are uploaded", `document.querySelectorAll('.upload.is-done').length === 3`)
		send(alice, "see attached")
		alice.waitFor("the tray is emptied", `!document.querySelector('.upload-tray')`)
	}

	t.Log("step: Bob sees thumbnails and a card")
	bob.waitFor("two thumbnails load", `[...document.querySelectorAll('.msg .attach-thumb img')].filter((i) => i.complete && i.naturalWidth > 0).length === 2`)
	bob.waitFor("the card shows name and size", `[...document.querySelectorAll('.msg .attach-card')].some((c) => c.querySelector('.attach-name').textContent === 'report 2024.txt' && c.querySelector('.attach-info').textContent.startsWith('18 B'))`)
	if w := eval[int](bob, `document.querySelector('.msg .attach-thumb img').naturalWidth`); w >= 640 || w == 0 {
		t.Errorf("thumbnail is %d pixels wide, want a server-made one under 640", w)
	}

	t.Log("step: the viewer shows the image full size")
	bob.click(".msg .attach-thumb")
	bob.waitFor("the viewer opens at full size", `(() => { const d = document.querySelector('dialog.file-viewer'); const i = d && d.querySelector('img'); return d && d.open && i.complete && i.naturalWidth === 640 && i.naturalHeight === 400; })()`)
	if got := eval[string](bob, `document.querySelector('dialog.file-viewer .viewer-caption span').textContent`); got != "view.png" {
		t.Errorf("viewer caption %q, want view.png", got)
	}
	bob.click("dialog.file-viewer .viewer-close")
	bob.waitFor("the viewer closes", `!document.querySelector('dialog.file-viewer').open`)

	t.Log("step: the card downloads under the file's name")
	{
		downloads := t.TempDir()
		var mu sync.Mutex
		var suggested []string
		if err := chromedp.ListenBrowser(bob.ctx, func(ev any) {
			if e, ok := ev.(*browser.EventDownloadWillBegin); ok {
				mu.Lock()
				suggested = append(suggested, e.SuggestedFilename)
				mu.Unlock()
			}
		}); err != nil {
			t.Fatal(err)
		}
		yes := true
		cdpCall(t, "allow downloads", func() error {
			_, err := chromedp.CallBrowser(bob.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads, EventsEnabled: &yes,
				BrowserContextID: chromedp.FromContext(bob.ctx).BrowserContextID,
			})
			return err
		})
		bob.click(".msg .attach-card")
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			got := append([]string(nil), suggested...)
			mu.Unlock()
			if len(got) > 0 {
				if got[0] != "report 2024.txt" {
					t.Errorf("download named %q, want %q", got[0], "report 2024.txt")
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no download began")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	t.Log("step: Carol, not a member, gets 404")
	url := eval[string](bob, `document.querySelector('.msg .attach-card').getAttribute('href')`)
	st, err := chromedp.Run(carol.ctx, chromedp.Evaluate[int](`fetch(`+js(url)+`).then((r) => r.status)`, awaitPromise))
	if err != nil || st != 404 {
		t.Errorf("non-member GET %s: %d %v, want 404", url, st, err)
	}
	// Three files kept (two with thumbnails). The cancelled upload may have
	// reached the server whole before the abort (Chromium's throttling
	// delays the progress events, not always the bytes): then it is kept,
	// carried by no message (see the report of issue 16).
	if n := blobCount(blobs); n != 5 && n != 6 {
		t.Errorf("%d blobs stored, want 5 (three files, two thumbnails) or 6", n)
	}
	alice.checkPage()
	bob.checkPage()
}

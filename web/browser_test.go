package web_test

// End-to-end tests of the browser client: the real server runs in process
// on a free port with a temporary SQLite file, Debian's Chromium (through
// chromedp) plays two users in separate browser contexts (separate cookie
// jars), and the page runs under the server's Content-Security-Policy. The
// tests save screenshots under testdata/screenshots/ (git-ignored);
// `make screenshots` regenerates the set that TestScreenshots takes.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/internal/wsclient"
	"github.com/chatr/chatr/server"
)

const testSecret = "chatr-browser-test-secret-0123456789"

const screenshotDir = "testdata/screenshots"

// watchScript runs before the page's own scripts (DevTools-injected scripts
// are not subject to the CSP): it records CSP violations, uncaught errors
// and any alert(), which an injected payload would call.
const watchScript = `
window.__csp = []; window.__errors = []; window.__alerts = 0;
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
window.addEventListener('error', (e) => window.__errors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => window.__errors.push('unhandled: ' + String(e.reason && e.reason.message || e.reason)));
window.alert = () => { window.__alerts++; };
window.__toasts = [];
window.__sockets = [];
window.WebSocket = class extends WebSocket { constructor(url, protocols) { super(url, protocols); window.__sockets.push(String(url)); } };
new MutationObserver((records) => { for (const r of records) for (const n of r.addedNodes) {
  if (n.nodeType === 1) for (const t of [n, ...n.querySelectorAll('.toast')]) if (t.classList.contains('toast')) window.__toasts.push(t.textContent);
} }).observe(document, { childList: true, subtree: true });
`

// chromiumPath finds Chromium, or skips the test (fails it under CI=true).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "Chromium not found: install Debian's chromium package (apt-get install chromium) to run the browser tests"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// testServer is one in-process Chatr server.
type testServer struct {
	srv    *server.Server
	cancel context.CancelFunc
	done   chan error
	url    string
}

func startServer(t *testing.T, db, addr string, idle time.Duration) *testServer {
	t.Helper()
	return startServerWith(t, server.Config{Addr: addr, DB: db, IdleTimeout: idle})
}

// startServerWith starts a server with cfg, the test secret and a silent logger.
func startServerWith(t *testing.T, cfg server.Config) *testServer {
	t.Helper()
	cfg.Secret = testSecret
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	var srv *server.Server
	var err error
	// A restarted server takes the address back; the old listener may need a moment.
	for i := 0; i < 50; i++ {
		srv, err = server.New(cfg)
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{srv: srv, cancel: cancel, done: make(chan error, 1), url: "http://" + srv.Addr()}
	go func() { ts.done <- srv.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(ts.url + "/.auth/me")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) stop() {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	ts.srv.Close()
	<-ts.done
	ts.cancel = nil
}

// newBrowser starts one Chromium for the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-sandbox", os.Geteuid() == 0),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	return browserCtx
}

// user is one person: a browser context of its own with one tab.
type user struct {
	t    *testing.T
	name string
	ctx  context.Context
	base string
}

func newUser(t *testing.T, browser context.Context, base, name string) *user {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	u := &user{t: t, name: name, ctx: ctx, base: base}
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchScript})
	if err != nil {
		t.Fatalf("%s: injecting the watch script: %v", name, err)
	}
	u.viewport(1280, 800)
	return u
}

func (u *user) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	// An upper bound only: a loaded machine can stall Chromium for seconds.
	ctx, cancel := context.WithTimeout(u.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		u.t.Fatalf("%s: %s: %v", u.name, what, err)
	}
}

// waitFor polls a JavaScript expression until it is truthy.
func (u *user) waitFor(what, expr string) {
	u.t.Helper()
	u.waitForIn(what, expr, 60*time.Second) // an upper bound: most conditions hold at once
}

func (u *user) waitForIn(what, expr string, d time.Duration) {
	u.t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for {
		ctx, cancel := context.WithTimeout(u.ctx, time.Until(deadline)+5*time.Second)
		_, err = chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		cancel()
		// A navigation (sign-out, reload) replaces the page under the poll: try again.
		if err != nil && time.Now().Before(deadline) && (strings.Contains(err.Error(), "context") || strings.Contains(err.Error(), "navigat")) &&
			!strings.Contains(err.Error(), "deadline") {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		break
	}
	if err != nil {
		u.t.Fatalf("%s: waiting until %s: %v\npage text:\n%s", u.name, what, err, u.text())
	}
}

func eval[T any](u *user, expr string) T {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		u.t.Fatalf("%s: evaluating %s: %v", u.name, expr, err)
	}
	return v
}

func (u *user) text() string {
	ctx, cancel := context.WithTimeout(u.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	return s
}

func (u *user) click(sel string) {
	u.t.Helper()
	u.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

func (u *user) viewport(w, h int64) {
	u.t.Helper()
	opts := []chromedp.EmulateViewportOption{}
	if w < 500 {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateScale(2))
	}
	u.do("viewport", chromedp.EmulateViewport(w, h, opts...))
}

func (u *user) colorScheme(scheme string) {
	u.t.Helper()
	_, err := chromedp.Call(u.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	if err != nil {
		u.t.Fatalf("%s: color scheme: %v", u.name, err)
	}
}

func (u *user) screenshot(name string) {
	u.t.Helper()
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		u.t.Fatal(err)
	}
	// Let transitions and toasts settle.
	time.Sleep(400 * time.Millisecond)
	ctx, cancel := context.WithTimeout(u.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		u.t.Fatalf("%s: screenshot %s: %v", u.name, name, err)
	}
	p := filepath.Join(screenshotDir, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		u.t.Fatal(err)
	}
	u.t.Logf("screenshot %s", p)
}

// signIn opens the app and signs in as a guest.
func (u *user) signIn() {
	u.t.Helper()
	u.do("open the app", chromedp.Navigate(u.base+"/"))
	u.waitFor("the sign-in form shows", `!!document.querySelector('#guest-name')`)
	u.do("type the name", chromedp.SendKeys(chromedp.CSS("#guest-name"), u.name), chromedp.Click(chromedp.CSS("#guest-submit")))
	u.waitReady()
}

func (u *user) waitReady() {
	u.t.Helper()
	u.waitFor("the main screen shows", `!!document.querySelector('#sidebar') && !document.querySelector('#conn-banner')`)
}

// checkPage fails the test on CSP violations, uncaught errors or alerts.
func (u *user) checkPage() {
	u.t.Helper()
	csp := eval[[]string](u, `window.__csp || []`)
	errs := eval[[]string](u, `window.__errors || []`)
	alerts := eval[int](u, `window.__alerts || 0`)
	if len(csp) > 0 {
		u.t.Errorf("%s: CSP violations: %q", u.name, csp)
	}
	if len(errs) > 0 {
		u.t.Errorf("%s: page errors: %q", u.name, errs)
	}
	if alerts > 0 {
		u.t.Errorf("%s: alert() was called %d times", u.name, alerts)
	}
}

func js(s string) string {
	return fmt.Sprintf("%q", s)
}

// Selectors and page expressions used by several tests.
// personShown finds a person's row in the people directory by name.
func personShown(name string) string {
	return `[...document.querySelectorAll('#people-list .person')].some((e) => e.querySelector('.person-name').textContent === ` + js(name) + `)`
}

// personStatus is the presence text of a person in the directory.
func personStatus(name string) string {
	return `([...document.querySelectorAll('#people-list .person')].find((e) => e.querySelector('.person-name').textContent === ` + js(name) + `) || {querySelector: () => ({textContent: ''})}).querySelector('.person-status').textContent`
}

// openPeople shows the people directory.
func openPeople(u *user) {
	u.t.Helper()
	u.openSidebar()
	u.click("#open-people")
	u.waitFor("the people directory shows", `!!document.querySelector('#people-list')`)
}

// openSidebar opens the drawer on a phone-sized screen (a no-op on a desktop).
func (u *user) openSidebar() {
	u.t.Helper()
	if eval[bool](u, `getComputedStyle(document.querySelector('.topbar-burger')).display !== 'none' && !document.querySelector('.sidebar.is-open')`) {
		u.click(".topbar-burger")
		u.waitFor("the drawer opens", `!!document.querySelector('.sidebar.is-open')`)
	}
}

// messagePerson opens the DM with a person from the directory.
func messagePerson(u *user, name string) {
	u.t.Helper()
	openPeople(u)
	u.waitFor(name+" is in the directory", personShown(name))
	u.do("message "+name, chromedp.Evaluate[chromedp.Void](
		`[...document.querySelectorAll('#people-list .person')].find((e) => e.querySelector('.person-name').textContent === `+js(name)+`).querySelector('.message-person').click()`))
	u.waitFor("the conversation with "+name+" is in front", `(document.querySelector('.chat-tab.is-active') || {dataset: {}}).dataset.chatId?.startsWith('private_') && !document.querySelector('#people-list')`)
}

// chatListed is true when a group chat the user is a member of is in the sidebar.
func chatListed(name string) string {
	return `[...document.querySelectorAll('#chat-list .side-name')].some((e) => e.textContent === ` + js(name) + `)`
}

func browseListed(name string) string {
	return `[...document.querySelectorAll('#browse-list .browse-name')].some((e) => e.textContent === ` + js(name) + `)`
}

// joinChat joins a public chat from "Browse chats".
func joinChat(u *user, name string) {
	u.t.Helper()
	u.openSidebar()
	u.click("#browse-chats")
	u.waitFor("chat "+name+" can be joined", browseListed(name))
	u.do("join "+name, chromedp.Evaluate[chromedp.Void](
		`[...document.querySelectorAll('#browse-list .browse-item')].find((e) => e.querySelector('.browse-name').textContent === `+js(name)+`).querySelector('.join-chat').click()`))
	u.waitFor("chat "+name+" is in front", `(document.querySelector('.chat-tab.is-active .tab-name') || {}).textContent === `+js(name))
}

// clickChat opens a chat from the sidebar, joining it first when the user
// is not a member yet.
func clickChat(u *user, name string) {
	u.t.Helper()
	if !eval[bool](u, chatListed(name)) {
		joinChat(u, name)
		return
	}
	u.openSidebar()
	u.do("open chat "+name, chromedp.Evaluate[chromedp.Void](
		`[...document.querySelectorAll('#chat-list .side-item')].find((e) => e.querySelector('.side-name').textContent === `+js(name)+`).setAttribute('data-test-target', '1')`),
		chromedp.Click(chromedp.CSS(`#chat-list .side-item[data-test-target] .chat-entry`)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-test-target]').removeAttribute('data-test-target')`))
	u.waitFor("chat "+name+" is in front", `(document.querySelector('.chat-tab.is-active .tab-name') || {}).textContent === `+js(name))
}

func createChat(u *user, name string) {
	u.t.Helper()
	u.click("#new-chat")
	u.waitFor("the create dialog shows", `document.activeElement && document.activeElement.id === 'chat-name'`)
	u.do("name the chat", chromedp.SendKeys(chromedp.CSS("#chat-name"), name+"\n"))
	u.waitFor("the dialog closes", `!document.querySelector('.modal')`)
	u.waitFor("chat "+name+" is in front", `(document.querySelector('.chat-tab.is-active .tab-name') || {}).textContent === `+js(name))
}

func send(u *user, text string) {
	u.t.Helper()
	u.waitFor("the composer is ready", `!!document.querySelector('#composer-input') && !document.querySelector('#composer-input').disabled`)
	u.do("type a message", chromedp.SendKeys(chromedp.CSS("#composer-input"), text), pressEnter)
	u.waitFor("the composer is empty", `document.querySelector('#composer-input').value === ''`)
}

// pressEnter sends the Enter key as a person's keyboard does: a keydown the
// page can cancel (SendKeys' "\n" also sends a char event that inserts a
// line break even when keydown was cancelled).
var pressEnter = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
		})
		if err != nil {
			return err
		}
	}
	return nil
})

func hasMessage(text string) string {
	return `[...document.querySelectorAll('.chat-view .msg:not(.is-pending) .msg-text')].some((e) => e.textContent === ` + js(text) + `)`
}

// shownMessages lists the texts of the messages in the chat in front.
func shownMessages(u *user) []string {
	return eval[[]string](u, `[...document.querySelectorAll('.chat-view .msg:not(.is-pending) .msg-text')].map((e) => e.textContent)`)
}

func TestBrowserChat(t *testing.T) {
	browser := newBrowser(t)
	dir := t.TempDir()
	ts := startServer(t, filepath.Join(dir, "chatr.db"), "127.0.0.1:0", 0)

	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	alice.signIn()
	bob.signIn()

	t.Log("step: people directory")
	{
		alice.screenshot("welcome-light")
		openPeople(alice)
		alice.waitFor("Alice sees Bob online", personStatus("Bob")+` === 'online'`)
		alice.waitFor("Alice is marked as herself",
			`[...document.querySelectorAll('#people-list .person')].some((e) => e.textContent.includes('Alice (you)') && !e.querySelector('.message-person'))`)
	}

	t.Log("step: create and join a chat")
	{
		// Escape closes the dialog.
		alice.click("#new-chat")
		alice.waitFor("the dialog shows", `!!document.querySelector('.modal.is-active')`)
		alice.do("press Escape", chromedp.KeyEvent("\u001b"))
		alice.waitFor("Escape closes the dialog", `!document.querySelector('.modal')`)

		createChat(alice, "Lobby")
		joinChat(bob, "Lobby")
	}

	t.Log("step: messages both ways")
	{
		send(alice, "Hello Bob!")
		bob.waitFor("Bob gets Alice's message", hasMessage("Hello Bob!"))
		send(bob, "Hi Alice, see https://example.com/docs?x=1.")
		alice.waitFor("Alice gets Bob's message", hasMessage("Hi Alice, see https://example.com/docs?x=1."))

		// Own messages on the right, by user id; sender and time shown.
		alice.waitFor("Alice's own message is marked mine",
			`[...document.querySelectorAll('.msg.is-mine .msg-text')].some((e) => e.textContent === 'Hello Bob!')`)
		alice.waitFor("Bob's message is marked theirs, with sender and time",
			`[...document.querySelectorAll('.msg.is-theirs')].some((e) => e.querySelector('.msg-sender').textContent === 'Bob' && /\d/.test(e.querySelector('.msg-time').textContent))`)
		// The link is clickable and safe.
		href := eval[string](alice, `(document.querySelector('.msg.is-theirs .msg-text a') || {}).href || ''`)
		rel := eval[string](alice, `(document.querySelector('.msg.is-theirs .msg-text a') || {}).rel || ''`)
		if href != "https://example.com/docs?x=1" || !strings.Contains(rel, "noopener") {
			t.Errorf("link: href %q rel %q, want https://example.com/docs?x=1 with noopener", href, rel)
		}
		// Join announcements appear as text.
		alice.waitFor("Alice sees Bob's join announcement",
			`[...document.querySelectorAll('.chat-view .note')].some((e) => e.textContent.includes('Bob'))`)
	}

	t.Log("step: markup renders as text")
	{
		payload := `<img src=x onerror=alert(1)> <b>bold</b>`
		send(alice, payload)
		bob.waitFor("Bob gets the payload as text", hasMessage(payload))
		// A name with markup joins: the announcement shows it as text.
		chatID := eval[string](alice, `document.querySelector('.chat-tab.is-active').dataset.chatId`)
		tom := guestConn(t, ts.url, `Tom & <i>Jerry</i>`)
		if f, err := tom.Event("joinChat", chatID); err != nil || !f.Success {
			t.Fatalf("Tom joins: %v %+v", err, f.Error)
		}
		alice.waitFor("the announcement shows the name as text",
			`[...document.querySelectorAll('.chat-view .note')].some((e) => e.textContent.includes('Tom & <i>Jerry</i> has joined'))`)
		for _, u := range []*user{alice, bob} {
			if n := eval[int](u, `document.querySelectorAll('.chat-view img, .chat-view .msg-text b, .chat-view i').length`); n != 0 {
				t.Errorf("%s: %d elements made from user-written markup", u.name, n)
			}
		}
		tom.Close()
	}

	t.Log("step: typing indicator")
	{
		alice.do("type without sending", chromedp.SendKeys(chromedp.CSS("#composer-input"), "writing"))
		bob.waitFor("Bob sees Alice typing", `document.querySelector('.typing').textContent.includes('Alice is typing')`)
		alice.do("clear the draft", chromedp.Evaluate[chromedp.Void](
			`(() => { const e = document.querySelector('#composer-input'); e.value = ''; e.dispatchEvent(new Event('input')); })()`))
	}

	alice.screenshot("chat-light")

	t.Log("step: private chat")
	{
		messagePerson(alice, "Bob")
		bob.waitFor("Bob gets a toast", `window.__toasts.some((t) => t.includes('private chat') || t.includes('talk'))`)
		bob.waitFor("Bob gets a background tab",
			`[...document.querySelectorAll('.chat-tab')].some((e) => e.dataset.chatId.startsWith('private_') && !e.classList.contains('is-active'))`)
		bob.screenshot("private-toast-light")

		send(alice, "Psst, private")
		bob.waitFor("Bob's private tab counts one unread",
			`[...document.querySelectorAll('.chat-tab')].some((e) => e.dataset.chatId.startsWith('private_') && (e.querySelector('.unread-badge') || {}).textContent === '1')`)
		bob.waitFor("Bob's title shows the unread total", `document.title === '(1) Chatr'`)
		bob.do("open the private tab", chromedp.Click(chromedp.CSS(`.chat-tab:not(.is-active) .tab-main`)))
		bob.waitFor("Bob reads the private message", hasMessage("Psst, private"))
		bob.waitFor("the unread count clears", `document.title === 'Chatr'`)
		send(bob, "Private reply")
		alice.waitFor("Alice gets the private reply", hasMessage("Private reply"))
	}

	t.Log("step: history after reload")
	{
		clickChat(bob, "Lobby")
		bob.do("reload", chromedp.Reload())
		bob.waitReady()
		clickChat(bob, "Lobby")
		bob.waitFor("Lobby history is back", hasMessage("Hello Bob!"))
		got := shownMessages(bob)
		want := []string{"Hello Bob!", "Hi Alice, see https://example.com/docs?x=1.", `<img src=x onerror=alert(1)> <b>bold</b>`}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("history after reload:\n got %q\nwant %q", got, want)
		}
	}

	t.Log("step: delete a chat as owner")
	{
		createChat(bob, "Bob's corner")
		joinChat(alice, "Bob's corner")
		alice.do("open the menu of Bob's corner", chromedp.Evaluate[chromedp.Void](
			`[...document.querySelectorAll('#chat-list .side-item')].find((e) => e.textContent.includes("Bob's corner")).querySelector('.chat-menu-button').click()`))
		alice.waitFor("the menu offers to leave", `!!document.querySelector('#chat-list .dropdown.is-active .leave-chat')`)
		if n := eval[int](alice, `document.querySelectorAll('#chat-list .dropdown.is-active .delete-chat').length`); n != 0 {
			t.Errorf("Alice may delete Bob's chat")
		}
		alice.do("close the menu", chromedp.KeyEvent("\u001b"))
		alice.waitFor("the menu closes", `!document.querySelector('.dropdown.is-active')`)
		alice.do("mark Lobby", chromedp.Evaluate[chromedp.Void](
			`[...document.querySelectorAll('#chat-list .side-item')].find((e) => e.textContent.includes('Lobby')).setAttribute('data-test-target', '1')`))
		alice.click(`#chat-list .side-item[data-test-target] .chat-menu-button`)
		alice.click(`#chat-list .side-item[data-test-target] .delete-chat`)
		alice.waitFor("the confirm dialog shows", `!!document.querySelector('#confirm-delete')`)
		alice.screenshot("delete-confirm-light")
		alice.click("#confirm-delete")
		alice.waitFor("Lobby is gone for Alice", `!(`+chatListed("Lobby")+`) && ![...document.querySelectorAll('.chat-tab .tab-name')].some((e) => e.textContent === 'Lobby')`)
		bob.waitFor("Lobby is gone for Bob", `!(`+chatListed("Lobby")+`) && ![...document.querySelectorAll('.chat-tab .tab-name')].some((e) => e.textContent === 'Lobby')`)
	}

	t.Log("step: sign out")
	{
		bob.click("#sign-out")
		bob.waitFor("Bob is back at the sign-in page", `!!document.querySelector('#guest-name')`)
		alice.waitFor("Bob shows offline beside his conversation", `!!document.querySelector('#dm-list .dm-entry .presence-dot.is-offline')`)
	}

	alice.checkPage()
	bob.checkPage()
}

func TestBrowserIdle(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 2*time.Second)
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	alice.signIn()
	bob.signIn()
	openPeople(bob)
	bob.waitFor("Bob sees Alice", personShown("Alice"))
	// Alice may have gone idle before Bob was there to see it: her activity
	// now makes the next "away" a change Bob witnesses.
	alice.do("Alice moves the mouse", chromedp.MouseClickXY(600, 400))

	bob.waitFor("Alice shows as away", personStatus("Alice")+` === 'away' && !!document.querySelector('#people-list .person.is-away .presence-dot.is-away')`)
	alice.do("move the mouse", chromedp.MouseClickXY(600, 400))
	bob.waitFor("Alice is back", personStatus("Alice")+` === 'online'`)
	// Presence is shown quietly: no toast for every change.
	if n := eval[int](bob, `window.__toasts.filter((t) => t.includes('Alice')).length`); n != 0 {
		t.Errorf("Bob got %d toasts about Alice's presence, want none", n)
	}
	alice.checkPage()
	bob.checkPage()
}

func TestBrowserServerRestart(t *testing.T) {
	browser := newBrowser(t)
	db := filepath.Join(t.TempDir(), "chatr.db")
	ts := startServer(t, db, "127.0.0.1:0", 0)
	addr := ts.srv.Addr()

	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	alice.signIn()
	bob.signIn()
	createChat(alice, "Ops")
	clickChat(bob, "Ops")

	var want []string
	for i := 1; i <= 3; i++ {
		msg := fmt.Sprintf("before restart %d", i)
		send(alice, msg)
		want = append(want, msg)
	}
	bob.waitFor("Bob has the messages before the restart", hasMessage("before restart 3"))

	// A dropped socket (no clean close) recovers its session: what was sent
	// meanwhile is replayed once.
	bob.do("drop Bob's socket", chromedp.Evaluate[chromedp.Void](`window.chatr.dropConnection()`))
	for i := 1; i <= 2; i++ {
		msg := fmt.Sprintf("while Bob was cut off %d", i)
		send(alice, msg)
		want = append(want, msg)
	}
	bob.waitForIn("Bob recovers his session", `window.chatr.connectionStats().recovered === 1 && !document.querySelector('#conn-banner')`, 30*time.Second)
	bob.waitFor("Bob gets what was sent meanwhile", hasMessage("while Bob was cut off 2"))
	if n := eval[int](bob, `window.chatr.connectionStats().fresh`); n != 1 {
		t.Errorf("Bob opened %d fresh sessions, want 1 (the drop should have been recovered)", n)
	}

	ts.stop()
	alice.waitFor("Alice sees the reconnecting banner", `!!document.querySelector('#conn-banner')`)
	bob.waitFor("Bob sees the reconnecting banner", `!!document.querySelector('#conn-banner')`)
	alice.screenshot("reconnecting-light")

	startServer(t, db, addr, 0)
	alice.waitForIn("Alice reconnects", `!document.querySelector('#conn-banner')`, 30*time.Second)
	// Bob may still be reconnecting: these reach him live or from history.
	for i := 1; i <= 3; i++ {
		msg := fmt.Sprintf("after restart %d", i)
		send(alice, msg)
		want = append(want, msg)
	}
	bob.waitForIn("Bob reconnects", `!document.querySelector('#conn-banner')`, 30*time.Second)
	for _, u := range []*user{alice, bob} {
		if n := eval[int](u, `window.chatr.connectionStats().fresh`); n != 2 {
			t.Errorf("%s opened %d fresh sessions, want 2 (a restarted server cannot recover sessions)", u.name, n)
		}
	}
	send(bob, "Bob is back")
	want = append(want, "Bob is back")

	// A doubled copy of anything sent before would reach both before this.
	send(alice, "last")
	want = append(want, "last")
	for _, u := range []*user{alice, bob} {
		u.waitFor("every message arrived", hasMessage("last"))
		got := shownMessages(u)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s after the restart:\n got %q\nwant %q", u.name, got, want)
		}
		ids := eval[int](u, `new Set([...document.querySelectorAll('.chat-view .msg')].map((e) => e.dataset.id)).size`)
		if ids != len(want) {
			t.Errorf("%s: %d distinct message ids shown, want %d", u.name, ids, len(want))
		}
	}
	alice.checkPage()
	bob.checkPage()
}

// TestScreenshots takes the reviewer's set of every screen: sign-in,
// loading, the empty screen, a chat, the dialogs and the settings, in light
// and dark mode, at desktop size and on a 375x812 phone. It runs under
// `make screenshots` (CHATR_SCREENSHOTS=1) and in CI.
func TestScreenshots(t *testing.T) {
	if os.Getenv("CHATR_SCREENSHOTS") == "" && os.Getenv("CI") != "true" {
		t.Skip("set CHATR_SCREENSHOTS=1 to take the screenshots (make screenshots)")
	}
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob Builder")
	carol := newUser(t, browser, ts.url, "Carol")

	for _, scheme := range []string{"light", "dark"} {
		alice.colorScheme(scheme)
		alice.do("open the app", chromedp.Navigate(ts.url+"/"))
		alice.waitFor("the sign-in form shows", `!!document.querySelector('#guest-name')`)
		alice.screenshot("signin-" + scheme)
	}
	alice.colorScheme("light")
	alice.signIn()
	bob.signIn()
	alice.screenshot("empty-light")
	alice.click("#new-chat")
	alice.waitFor("the create dialog shows", `document.activeElement && document.activeElement.id === 'chat-name'`)
	alice.screenshot("dialog-create-light")
	alice.do("close the dialog", chromedp.KeyEvent("\u001b"))
	alice.waitFor("the dialog closes", `!document.querySelector('.modal')`)

	// Carol's requests are slowed down so that the loading steps can be seen.
	_, err := chromedp.Call(carol.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `const realFetch = window.fetch; window.fetch = (...a) => new Promise((r) => setTimeout(r, 600)).then(() => realFetch(...a));`,
	})
	if err != nil {
		t.Fatal(err)
	}
	carol.do("open the app", chromedp.Navigate(ts.url+"/"))
	carol.waitFor("the sign-in form shows", `!!document.querySelector('#guest-name')`)
	carol.do("sign in", chromedp.SendKeys(chromedp.CSS("#guest-name"), carol.name), chromedp.Click(chromedp.CSS("#guest-submit")))
	carol.waitFor("a loading step is done, or the app is up (the start-up requests go out together)", `document.querySelectorAll('.step.is-done').length >= 1 || !!document.querySelector('.app-shell')`)
	carol.screenshot("loading-light")
	carol.waitReady()
	createChat(alice, "Coffee break")
	createChat(alice, "Release planning")
	clickChat(bob, "Release planning")
	clickChat(carol, "Release planning")
	send(alice, "Morning! Release notes draft: https://example.com/notes/1.2")
	send(bob, "Looks good. I'll check the migration section after lunch.")
	send(bob, "@Alice can you tag the build when CI is green?")
	send(carol, "Heads-up: staging restarts at 14:00 <script>alert('x')</script>")
	send(alice, "Will do 👍")
	bob.do("type", chromedp.SendKeys(chromedp.CSS("#composer-input"), "one more thing"))
	alice.waitFor("Alice sees Bob typing", `document.querySelector('.typing').textContent.includes('is typing')`)

	alice.do("dismiss the toasts", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('.toast .delete').forEach((b) => b.click())`))
	// Bob opens a private chat: Alice gets a toast and a background tab.
	messagePerson(bob, "Alice")
	alice.waitFor("the private chat toast shows", `[...document.querySelectorAll('.toast')].some((e) => e.textContent.includes('private chat'))`)
	for _, scheme := range []string{"light", "dark"} {
		alice.colorScheme(scheme)
		alice.screenshot("chat-desktop-" + scheme)
	}
	alice.do("dismiss the toasts", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('.toast .delete').forEach((b) => b.click())`))
	alice.colorScheme("light")
	clickChat(alice, "Release planning")
	press(alice, "#room-menu")
	alice.screenshot("chat-menu-light")
	alice.do("close the menu", chromedp.KeyEvent("\u001b"))
	press(alice, "#room-members")
	alice.waitFor("the member panel shows", `!!document.querySelector('#member-panel')`)
	alice.screenshot("members-light")
	press(alice, "#member-panel-close")
	openSettings(alice)
	alice.screenshot("settings-light")
	pick(alice, "theme", "dark")
	alice.screenshot("settings-dark")
	pick(alice, "density", "compact")
	press(alice, "#settings-done")
	alice.screenshot("chat-compact-dark")
	openSettings(alice)
	pick(alice, "theme", "system")
	pick(alice, "density", "comfortable")
	pick(alice, "language", "de")
	press(alice, "#settings-done")
	alice.screenshot("chat-de-light")
	openSettings(alice)
	pick(alice, "language", "auto")
	press(alice, "#settings-done")
	alice.viewport(375, 812)
	for _, scheme := range []string{"light", "dark"} {
		alice.colorScheme(scheme)
		alice.screenshot("chat-375-" + scheme)
		alice.click(".topbar-burger")
		alice.waitFor("the drawer opens", `!!document.querySelector('.sidebar.is-open')`)
		alice.screenshot("sidebar-375-" + scheme)
		alice.do("close the drawer", chromedp.KeyEvent("\u001b"))
		alice.waitFor("the drawer closes", `!document.querySelector('.sidebar.is-open')`)
		openSettings(alice)
		alice.screenshot("settings-375-" + scheme)
		press(alice, "#settings-done")
	}
	alice.colorScheme("light")
	alice.viewport(1280, 800)
	alice.checkPage()
	bob.checkPage()
	carol.checkPage()
}

// guestConn signs in a guest over HTTP and connects it to the hub with the
// plain JSON protocol, as a non-browser client would.
func guestConn(t *testing.T, base, name string) *wsclient.Conn {
	t.Helper()
	u := tokenURL(t, base, name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, u, "json.webpubsub.azure.v1", http.Header{"Origin": {base}})
	if err != nil {
		t.Fatalf("dial the hub: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// seedChat creates a group chat as a guest over the hub and posts n
// messages "<prefix> 1".."<prefix> n" to it.
func seedChat(t *testing.T, base, chatName, prefix string, n int) {
	t.Helper()
	c := guestConn(t, base, "Archivist")
	id := fmt.Sprintf("%08x-0000-4000-8000-000000000001", time.Now().UnixNano()&0xffffffff)
	if f, err := c.Event("createChat", map[string]any{"name": chatName, "id": id}); err != nil || !f.Success {
		t.Fatalf("createChat: %v %+v", err, f.Error)
	}
	// docs/api.md says the creator joins the chat it creates; join anyway.
	if f, err := c.Event("joinChat", id); err != nil || !f.Success {
		t.Fatalf("joinChat: %v %+v", err, f.Error)
	}
	for i := 1; i <= n; i++ {
		f, err := c.Call(map[string]any{"type": "sendToGroup", "group": id, "dataType": "json",
			"data": map[string]any{"message": fmt.Sprintf("%s %d", prefix, i)}})
		if err != nil || !f.Success {
			t.Fatalf("message %d: %v %+v", i, err, f.Error)
		}
	}
}

func TestBrowserHistoryPaging(t *testing.T) {
	browser := newBrowser(t)
	ts := startServerWith(t, server.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "chatr.db"),
		Limits: chat.Limits{MessagesPerSecond: 10000, MessageBurst: 10000}})
	const total = 130
	seedChat(t, ts.url, "Archive", "old", total)

	alice := newUser(t, browser, ts.url, "Alice")
	alice.signIn()
	clickChat(alice, "Archive")
	alice.waitFor("the newest message shows", hasMessage(fmt.Sprintf("old %d", total)))
	first := shownMessages(alice)
	if len(first) >= total {
		t.Fatalf("the first page holds all %d messages: no paging to test", len(first))
	}
	// The view opens at the bottom.
	if !eval[bool](alice, `(() => { const e = document.querySelector('.messages'); return e.scrollHeight - e.scrollTop - e.clientHeight < 60; })()`) {
		t.Errorf("the chat did not open scrolled to the newest message")
	}
	// Scrolling to the top loads older pages and keeps the message that was
	// at the top in place.
	for i := 0; i < 10 && !eval[bool](alice, hasMessage("old 1")); i++ {
		top := eval[string](alice, `document.querySelector('.chat-view .msg').dataset.id`)
		alice.do("scroll to the top", chromedp.Evaluate[chromedp.Void](`document.querySelector('.messages').scrollTop = 0`))
		before := eval[float64](alice, `document.querySelector('.chat-view .msg[data-id="`+top+`"]').getBoundingClientRect().top`)
		alice.waitFor("an older page loads", `document.querySelector('.chat-view .msg').dataset.id !== `+js(top))
		alice.waitFor("loading ends", `!document.querySelector('.older-loading')`)
		// The message that was at the top is still where it was on screen.
		after := eval[float64](alice, `document.querySelector('.chat-view .msg[data-id="`+top+`"]').getBoundingClientRect().top`)
		if d := after - before; d < -30 || d > 30 {
			t.Errorf("after loading older messages, the message read last moved by %vpx: the view jumped", d)
		}
	}
	alice.waitFor("the start of the chat shows", `!!document.querySelector('.chat-start')`)
	got := shownMessages(alice)
	if len(got) != total {
		t.Fatalf("%d messages shown, want %d", len(got), total)
	}
	for i, m := range got {
		if want := fmt.Sprintf("old %d", i+1); m != want {
			t.Fatalf("message %d is %q, want %q", i, m, want)
		}
	}
	alice.checkPage()
}

// TestServerServesTheApp checks that the server mounts the app at / under
// a CSP that forbids inline scripts and eval, which the browser tests rely on.
func TestServerServesTheApp(t *testing.T) {
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	res, err := http.Get(ts.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `<div id="app">`) {
		t.Fatalf("GET /: status %d, body %.200q", res.StatusCode, b)
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "worker-src 'self'", "manifest-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for _, bad := range []string{"unsafe-eval", "unsafe-inline"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP %q allows %s", csp, bad)
		}
	}
	t.Logf("CSP: %s", csp)
	// The service worker, at the root so that its scope is the whole app.
	res, err = http.Get(ts.url + "/sw.js")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /sw.js: status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// notifyStub replaces the Notification API and page visibility, which a
// headless browser cannot show or change, with recording fakes.
const notifyStub = `
(() => {
  let permission = 'default';
  window.__notes = []; window.__permissionAsks = 0; window.__hidden = false;
  class FakeNotification {
    constructor(title, opts) { window.__notes.push(title + ': ' + ((opts && opts.body) || '')); }
    close() {}
    static get permission() { return permission; }
    static async requestPermission() { window.__permissionAsks++; permission = 'granted'; return permission; }
  }
  window.Notification = FakeNotification;
  Object.defineProperty(Document.prototype, 'hidden', { get() { return window.__hidden; } });
  Object.defineProperty(Document.prototype, 'visibilityState', { get() { return window.__hidden ? 'hidden' : 'visible'; } });
  window.__setHidden = (h) => { window.__hidden = h; document.dispatchEvent(new Event('visibilitychange')); };
})();
`

func TestBrowserNotifications(t *testing.T) {
	browser := newBrowser(t)
	ts := startServer(t, filepath.Join(t.TempDir(), "chatr.db"), "127.0.0.1:0", 0)
	alice := newUser(t, browser, ts.url, "Alice")
	bob := newUser(t, browser, ts.url, "Bob")
	_, err := chromedp.Call(bob.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: notifyStub})
	if err != nil {
		t.Fatal(err)
	}
	alice.signIn()
	bob.signIn()

	if n := eval[int](bob, `window.__permissionAsks`); n != 0 {
		t.Errorf("permission was asked %d times on load, want only on a click", n)
	}
	bob.click("#enable-notifications")
	bob.waitFor("permission is asked on the click", `window.__permissionAsks === 1 && !document.querySelector('#enable-notifications')`)

	createChat(alice, "Team")
	clickChat(bob, "Team")
	bob.do("hide Bob's page", chromedp.Evaluate[chromedp.Void](`window.__setHidden(true)`))

	send(alice, "nothing for you here")
	send(alice, "@Bob can you look?")
	bob.waitFor("a mention notifies Bob", `window.__notes.some((n) => n.includes('@Bob can you look?'))`)
	if notes := eval[[]string](bob, `window.__notes`); len(notes) != 1 {
		t.Errorf("notifications %q, want only the mention", notes)
	}
	bob.waitFor("unread counts while hidden, in the title too", `document.title === '(2) Chatr'`)

	messagePerson(alice, "Bob")
	send(alice, "just between us")
	bob.waitFor("a private message notifies Bob", `window.__notes.some((n) => n.startsWith('Alice: just between us'))`)

	bob.do("show Bob's page", chromedp.Evaluate[chromedp.Void](`window.__setHidden(false)`))
	bob.waitFor("the chat in front is read when the page shows", `document.title === '(1) Chatr'`)
	alice.checkPage()
	bob.checkPage()
}

package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/chat"
	"github.com/chatr/chatr/internal/ratelimit"
)

// Budgets of the integrations.
const (
	tokenPrefix       = "chatr_"         // marks Chatr's API tokens, for secret scanners
	maxTokensPerUser  = 50               // live (unrevoked) tokens of one user or bot
	maxWebhooksInChat = 20               // live webhooks of one chat
	maxHookBody       = 1 << 20          // a webhook request's body
	tokensPerSecond   = 5                // requests per API token, sustained
	tokenBurst        = 50               // requests per API token at once
	hooksPerSecond    = 1                // posts per webhook, sustained
	hookBurst         = 30               // posts per webhook at once (an alert storm)
	touchEvery        = time.Minute      // a token's last use is written at most this often per node
	hookPath          = "/hooks/"        // where incoming webhooks are served
	redactedHookPath  = hookPath + "***" // a webhook's path as logs show it
)

// integrations holds the HTTP layer's state for API tokens and webhooks.
type integrations struct {
	tokens  *ratelimit.Limiter // per token
	hooks   *ratelimit.Limiter // per webhook
	touched sync.Map           // token id -> time.Time of the last recorded use
}

func newIntegrations() *integrations {
	return &integrations{tokens: ratelimit.New(tokensPerSecond, tokenBurst), hooks: ratelimit.New(hooksPerSecond, hookBurst)}
}

// routeIntegrations adds the routes of bots, API tokens and webhooks.
func (h *Handler) routeIntegrations(m *http.ServeMux) {
	m.HandleFunc("POST /api/chats/{id}/messages", h.authedWrite(h.sendMessage))
	m.HandleFunc("GET /api/tokens", h.authed(h.listTokens))
	m.HandleFunc("POST /api/tokens", h.authedWrite(h.createToken))
	m.HandleFunc("DELETE /api/tokens/{tokenId}", h.authedWrite(h.revokeToken))
	m.HandleFunc("GET /api/admin/bots", h.admin(h.listBots))
	m.HandleFunc("POST /api/admin/bots", h.admin(h.createBot))
	m.HandleFunc("GET /api/admin/bots/{botId}/tokens", h.admin(h.listTokens))
	m.HandleFunc("POST /api/admin/bots/{botId}/tokens", h.admin(h.createToken))
	m.HandleFunc("DELETE /api/admin/bots/{botId}/tokens/{tokenId}", h.admin(h.revokeToken))
	m.HandleFunc("GET /api/chats/{id}/webhooks", h.authed(h.listWebhooks))
	m.HandleFunc("POST /api/chats/{id}/webhooks", h.authedWrite(h.createWebhook))
	m.HandleFunc("DELETE /api/chats/{id}/webhooks/{webhookId}", h.authedWrite(h.revokeWebhook))
	m.HandleFunc("POST "+hookPath+"{secret}", h.hook)
}

// hashSecret is how token and webhook secrets are stored: SHA-256, hex.
func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newSecret returns n random bytes, base64url-encoded.
func newSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// bearer returns the request's API token, "" when it has none.
func bearer(r *http.Request) string {
	v := r.Header.Get("Authorization")
	if len(v) > 7 && strings.EqualFold(v[:7], "Bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}

// identify returns the caller: the user of the request's API token when
// it carries one (and the token allows the request), else the session's.
func (h *Handler) identify(w http.ResponseWriter, r *http.Request) (chatr.User, error) {
	secret := bearer(r)
	if secret == "" {
		u, _, err := h.cfg.Auth.Authenticate(w, r)
		return u, err
	}
	ctx := r.Context()
	bad := chatr.Errorf(chatr.EUNAUTH, "invalid or revoked API token")
	if !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 200 {
		return chatr.User{}, bad
	}
	t, err := h.cfg.Store.GetAPIToken(ctx, hashSecret(secret))
	if chatr.ErrorCode(err) == chatr.ENOTFOUND || err == nil && t.Revoked {
		return chatr.User{}, bad
	} else if err != nil {
		return chatr.User{}, err
	}
	u, err := h.cfg.Store.GetUser(ctx, t.UserID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND || err == nil && u.Banned {
		return chatr.User{}, bad
	} else if err != nil {
		return chatr.User{}, err
	}
	now := time.Now()
	if !h.integrations.tokens.Allow(t.ID, now) {
		w.Header().Set("Retry-After", "1")
		return chatr.User{}, chatr.Errorf(chatr.ELIMIT, "too many requests with this token")
	}
	if err := tokenAllows(t, r); err != nil {
		return chatr.User{}, err
	}
	h.touch(r, t.ID, now)
	return u, nil
}

// touch records a token's use, at most once per touchEvery per node.
func (h *Handler) touch(r *http.Request, id string, now time.Time) {
	if last, ok := h.integrations.touched.Load(id); ok && now.Sub(last.(time.Time)) < touchEvery {
		return
	}
	h.integrations.touched.Store(id, now)
	if err := h.cfg.Store.TouchAPIToken(r.Context(), id, now); err != nil {
		h.log.Warn("recording an API token's use failed", "token", id, "err", err)
	}
}

// tokenAllows applies a token's scope and chat list to a request. Tokens
// do not manage tokens, webhooks, accounts or the server, and do not open
// sockets: those need a signed-in browser.
func tokenAllows(t chatr.APIToken, r *http.Request) error {
	p := r.URL.Path
	switch {
	case p == "/api/tokens" || strings.HasPrefix(p, "/api/tokens/") || strings.HasPrefix(p, "/api/admin") ||
		strings.HasPrefix(p, "/api/account") || p == "/api/getToken" || strings.HasSuffix(p, "/webhooks") || strings.Contains(p, "/webhooks/"):
		return chatr.Errorf(chatr.EFORBIDDEN, "not with an API token: sign in to do this")
	case r.Method != http.MethodGet && r.Method != http.MethodHead && t.Scope != chatr.ScopeWrite:
		return chatr.Errorf(chatr.EFORBIDDEN, "this API token may only read")
	case len(t.Chats) > 0 && (!strings.HasPrefix(p, "/api/chats/") || !t.AllowsChat(r.PathValue("id"))):
		return chatr.Errorf(chatr.EFORBIDDEN, "this API token is limited to other chats")
	}
	return nil
}

// sendMessage answers POST /api/chats/{id}/messages: the caller's message,
// sent as a socket's would be. 201 with the stored message; a retry with
// the same idempotency key (clientId, or the Idempotency-Key header) gets
// 200 with the first one.
func (h *Handler) sendMessage(w http.ResponseWriter, r *http.Request, u chatr.User) {
	var in struct {
		Text     string `json:"text"`
		Message  string `json:"message"` // the socket's name for the text
		ClientID string `json:"clientId"`
		ReplyTo  int64  `json:"replyTo"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		h.Error(w, r, err)
		return
	}
	if in.Text == "" {
		in.Text = in.Message
	}
	if in.ClientID == "" {
		in.ClientID = r.Header.Get("Idempotency-Key")
	}
	m, err := h.cfg.App.SendMessage(r.Context(), u.ID, chat.Post{ChatID: r.PathValue("id"), Text: in.Text, ReplyTo: in.ReplyTo, Key: in.ClientID})
	if err != nil {
		h.Error(w, r, err)
		return
	}
	writeJSON(w, createdOrFirst(m), m)
}

func createdOrFirst(m chatr.Message) int {
	if m.Duplicate {
		return http.StatusOK
	}
	return http.StatusCreated
}

// tokenOwner is whose tokens a request manages: the caller's own under
// /api/tokens (when users may have tokens), a bot's under /api/admin/bots.
func (h *Handler) tokenOwner(r *http.Request, u chatr.User) (string, error) {
	botID := r.PathValue("botId")
	if botID == "" {
		if h.cfg.NoUserTokens && !h.cfg.App.IsAdmin(u) {
			return "", chatr.Errorf(chatr.EFORBIDDEN, "this server does not give users API tokens; ask an administrator for a bot")
		}
		return u.ID, nil
	}
	if !chatr.IsBotID(botID) {
		return "", chatr.Errorf(chatr.ENOTFOUND, "no such bot")
	}
	if _, err := h.cfg.Store.GetUser(r.Context(), botID); err != nil {
		return "", err
	}
	return botID, nil
}

func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request, u chatr.User) {
	owner, err := h.tokenOwner(r, u)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	ts, err := h.cfg.Store.ListAPITokens(r.Context(), owner)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	if ts == nil {
		ts = []chatr.APIToken{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts, "allowed": !h.cfg.NoUserTokens || h.cfg.App.IsAdmin(u)})
}

// createToken makes a token and shows its secret, this once.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, u chatr.User) {
	owner, err := h.tokenOwner(r, u)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	var in struct {
		Name  string   `json:"name"`
		Scope string   `json:"scope"`
		Chats []string `json:"chats"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		h.Error(w, r, err)
		return
	}
	if in.Scope == "" {
		in.Scope = chatr.ScopeWrite
	}
	ctx := r.Context()
	old, err := h.cfg.Store.ListAPITokens(ctx, owner)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	live := 0
	for _, t := range old {
		if !t.Revoked {
			live++
		}
	}
	if live >= maxTokensPerUser {
		h.Error(w, r, chatr.Errorf(chatr.ELIMIT, "at most %d API tokens: revoke one first", maxTokensPerUser))
		return
	}
	secret := tokenPrefix + newSecret(32)
	t := chatr.APIToken{ID: "tok_" + newSecret(9), UserID: owner, Name: strings.TrimSpace(in.Name), Hash: hashSecret(secret),
		Scope: in.Scope, Chats: in.Chats, Created: time.Now().UTC().Truncate(time.Millisecond)}
	if err := h.cfg.Store.CreateAPIToken(ctx, t); err != nil {
		h.Error(w, r, err)
		return
	}
	t, _ = chatr.CheckAPIToken(t)
	writeJSON(w, http.StatusCreated, struct {
		chatr.APIToken
		Token string `json:"token"`
	}{t, secret})
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, u chatr.User) {
	owner, err := h.tokenOwner(r, u)
	if err == nil {
		err = h.cfg.Store.RevokeAPIToken(r.Context(), owner, r.PathValue("tokenId"))
	}
	if err != nil {
		h.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listBots answers GET /api/admin/bots: the bot accounts.
func (h *Handler) listBots(w http.ResponseWriter, r *http.Request, _ chatr.User) {
	users, err := h.cfg.Store.ListUsers(r.Context())
	if err != nil {
		h.Error(w, r, err)
		return
	}
	bots := []chatr.User{}
	for _, u := range users {
		if u.IsBot() {
			bots = append(bots, u)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"bots": bots})
}

// createBot answers POST /api/admin/bots {"name"}: a new bot account, which
// members add to chats as they add anyone, and which speaks through tokens.
func (h *Handler) createBot(w http.ResponseWriter, r *http.Request, _ chatr.User) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		h.Error(w, r, err)
		return
	}
	name := strings.TrimSpace(in.Name)
	if err := chatr.CheckIntegrationName(name); err != nil {
		h.Error(w, r, err)
		return
	}
	ctx := r.Context()
	u := chatr.User{ID: chatr.BotIDPrefix + newSecret(12), Name: name, Provider: chatr.BotProvider, Handle: name}
	if err := h.cfg.Store.UpsertUser(ctx, u); err != nil {
		h.Error(w, r, err)
		return
	}
	u, err := h.cfg.Store.GetUser(ctx, u.ID)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

// webhookManager checks that the caller may create or revoke the chat's
// webhooks: its members when the chat lets members invite, else its owner
// and moderators (the chat's invite policy decides who brings newcomers,
// people or integrations); the server's admins always.
func (h *Handler) webhookManager(r *http.Request, u chatr.User, chatID string) error {
	ctx := r.Context()
	m, err := h.cfg.Store.GetMember(ctx, chatID, u.ID)
	if chatr.ErrorCode(err) == chatr.ENOTFOUND {
		if h.cfg.App.IsAdmin(u) {
			_, err := h.cfg.Store.GetChat(ctx, chatID)
			return err
		}
		return chatr.Errorf(chatr.ENOTFOUND, "no such chat, or you are not a member")
	} else if err != nil {
		return err
	}
	c, err := h.cfg.Store.GetChat(ctx, chatID)
	if err != nil {
		return err
	}
	if c.InvitePolicy == chatr.InviteByModerators && m.Role == chatr.RoleMember && !h.cfg.App.IsAdmin(u) {
		return chatr.Errorf(chatr.EFORBIDDEN, "in this chat only its owner and moderators manage integrations")
	}
	return nil
}

// listWebhooks answers GET /api/chats/{id}/webhooks (members): the chat's
// webhooks, without their URLs, which only their creation shows.
func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request, u chatr.User) {
	chatID := r.PathValue("id")
	ctx := r.Context()
	if ok, err := h.cfg.Store.IsMember(ctx, chatID, u.ID); err != nil {
		h.Error(w, r, err)
		return
	} else if !ok && !h.cfg.App.IsAdmin(u) {
		h.Error(w, r, chatr.Errorf(chatr.ENOTFOUND, "no such chat, or you are not a member"))
		return
	}
	ws, err := h.cfg.Store.ListWebhooks(ctx, chatID)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	if ws == nil {
		ws = []chatr.Webhook{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": ws, "canManage": h.webhookManager(r, u, chatID) == nil})
}

// createWebhook answers POST /api/chats/{id}/webhooks {"name"}: 201 with
// the webhook and its URL, shown this once.
func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request, u chatr.User) {
	chatID := r.PathValue("id")
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		h.Error(w, r, err)
		return
	}
	if err := h.webhookManager(r, u, chatID); err != nil {
		h.Error(w, r, err)
		return
	}
	ctx := r.Context()
	old, err := h.cfg.Store.ListWebhooks(ctx, chatID)
	if err != nil {
		h.Error(w, r, err)
		return
	}
	live := 0
	for _, wh := range old {
		if !wh.Revoked {
			live++
		}
	}
	if live >= maxWebhooksInChat {
		h.Error(w, r, chatr.Errorf(chatr.ELIMIT, "at most %d webhooks in a chat: revoke one first", maxWebhooksInChat))
		return
	}
	secret := newSecret(32)
	wh := chatr.Webhook{ID: "wh_" + newSecret(9), ChatID: chatID, Name: strings.TrimSpace(in.Name), CreatedBy: u.ID,
		Hash: hashSecret(secret), Created: time.Now().UTC().Truncate(time.Millisecond)}
	if err := h.cfg.Store.CreateWebhook(ctx, wh); err != nil {
		h.Error(w, r, err)
		return
	}
	scheme := "http"
	if h.cfg.Auth.IsTLS(r) {
		scheme = "https"
	}
	writeJSON(w, http.StatusCreated, struct {
		chatr.Webhook
		URL string `json:"url"`
	}{wh, scheme + "://" + h.host(r) + hookPath + secret})
}

// revokeWebhook answers DELETE /api/chats/{id}/webhooks/{webhookId}: its
// creator, or whoever may manage the chat's webhooks.
func (h *Handler) revokeWebhook(w http.ResponseWriter, r *http.Request, u chatr.User) {
	chatID, id := r.PathValue("id"), r.PathValue("webhookId")
	ctx := r.Context()
	err := h.webhookManager(r, u, chatID)
	if chatr.ErrorCode(err) == chatr.EFORBIDDEN {
		// A member may revoke what they created.
		ws, lerr := h.cfg.Store.ListWebhooks(ctx, chatID)
		if lerr != nil {
			h.Error(w, r, lerr)
			return
		}
		for _, wh := range ws {
			if wh.ID == id && wh.CreatedBy == u.ID {
				err = nil
			}
		}
	}
	if err == nil {
		err = h.cfg.Store.RevokeWebhook(ctx, chatID, id)
	}
	if err != nil {
		h.Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// hookPayload is what notifiers send to an incoming webhook: the format of
// Slack's and Mattermost's incoming webhooks. Fields Chatr does not show
// (icon_url, channel, blocks, ...) are accepted and ignored.
type hookPayload struct {
	Text           string           `json:"text"`
	Username       string           `json:"username"`
	IconURL        string           `json:"icon_url"`
	Attachments    []hookAttachment `json:"attachments"`
	IdempotencyKey string           `json:"idempotency_key"`
}

// hookAttachment is a Slack "secondary attachment": without a text, its
// fallback (or pretext, title and text) make the message.
type hookAttachment struct {
	Fallback string `json:"fallback"`
	Pretext  string `json:"pretext"`
	Title    string `json:"title"`
	Text     string `json:"text"`
}

// text returns the message a payload makes: its text, or else its
// attachments' fallbacks (their pretext, title and text when they have
// none), with Slack's <url|label> links as Markdown links.
func (p hookPayload) text() string {
	t := strings.TrimSpace(p.Text)
	if t == "" {
		var parts []string
		for _, a := range p.Attachments {
			if a.Fallback != "" {
				parts = append(parts, a.Fallback)
				continue
			}
			for _, s := range []string{a.Pretext, a.Title, a.Text} {
				if s = strings.TrimSpace(s); s != "" {
					parts = append(parts, s)
				}
			}
		}
		t = strings.TrimSpace(strings.Join(parts, "\n"))
	}
	t = slackLabelled.ReplaceAllString(t, "[$2]($1)")
	return slackBare.ReplaceAllString(t, "$1")
}

var (
	slackLabelled = regexp.MustCompile(`<(https?://[^|<>\s]+)\|([^<>]+)>`)
	slackBare     = regexp.MustCompile(`<(https?://[^|<>\s]+)>`)
)

// hook answers POST /hooks/{secret}: a notifier's message, posted to the
// webhook's chat as Markdown under the webhook's name (or the payload's
// username), marked as a bot's. JSON bodies and Slack's form-encoded
// payload= are accepted; 413 over maxHookBody, 400 for a body that is not
// a payload or has no text, 404 for an unknown or revoked webhook, 429
// with Retry-After past the webhook's rate. Answers {"ok": true, ...} as
// Slack does, which notifiers that read the answer expect.
func (h *Handler) hook(w http.ResponseWriter, r *http.Request) {
	// The secret is the credential: keep it out of every log line.
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = redactedHookPath, ""
	fail := func(err error) { h.Error(w, r2, err) }

	secret := r.PathValue("secret")
	wh, err := h.cfg.Store.GetWebhook(r.Context(), hashSecret(secret))
	if chatr.ErrorCode(err) == chatr.ENOTFOUND || err == nil && wh.Revoked {
		fail(chatr.Errorf(chatr.ENOTFOUND, "no such webhook, or it was revoked"))
		return
	} else if err != nil {
		fail(err)
		return
	}
	if !h.integrations.hooks.Allow(wh.ID, time.Now()) {
		w.Header().Set("Retry-After", "1")
		fail(chatr.Errorf(chatr.ELIMIT, "too many messages through this webhook"))
		return
	}
	p, err := readHookPayload(w, r)
	if errors.Is(err, errHookTooLarge) {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "too_large",
			"message": "a webhook body is at most " + strconv.Itoa(maxHookBody) + " bytes"})
		return
	} else if err != nil {
		fail(err)
		return
	}
	text := p.text()
	if text == "" {
		fail(chatr.Errorf(chatr.EINVALID, `the payload has no text: send {"text": "..."}`))
		return
	}
	name := wh.Name
	if u := strings.TrimSpace(p.Username); u != "" && chatr.StorableText(u) {
		name = truncateRunes(u, chatr.MaxIntegrationName)
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		key = p.IdempotencyKey
	}
	m, err := h.cfg.App.PostAsBot(r.Context(), chatr.WebhookSenderID(wh.ID), name, chat.Post{
		ChatID: wh.ChatID, Text: truncateBytes(text, h.cfg.App.Limits().MaxMessageBytes), Key: key,
	})
	if err != nil {
		fail(err)
		return
	}
	writeJSON(w, createdOrFirst(m), map[string]any{"ok": true, "id": m.ID, "chatId": m.ChatID})
}

var errHookTooLarge = errors.New("webhook body too large")

// readHookPayload reads a JSON body, or a form whose payload field holds
// the JSON (as Slack's clients send it).
func readHookPayload(w http.ResponseWriter, r *http.Request) (hookPayload, error) {
	var p hookPayload
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return p, errHookTooLarge
	} else if err != nil {
		return p, chatr.Errorf(chatr.EINVALID, "the body could not be read")
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(b))
		if err != nil || form.Get("payload") == "" {
			return p, chatr.Errorf(chatr.EINVALID, "a form needs a payload field holding JSON")
		}
		b = []byte(form.Get("payload"))
	}
	if err := decodeJSON(b, &p); err != nil {
		return p, chatr.Errorf(chatr.EINVALID, `the body must be JSON: {"text": "..."}`)
	}
	return p, nil
}

// truncateBytes cuts s to at most n bytes on a character boundary, ending
// it with "…" when cut: a notifier's long message is shown, not refused.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

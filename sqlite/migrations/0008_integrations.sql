-- Bots and integrations: API tokens and incoming webhooks. Only the SHA-256
-- of a token's or a webhook URL's secret is stored, as for sessions. A
-- token goes with its user and a webhook with its chat. chats is the JSON
-- array of the chats a token is limited to ('' for every chat); times are
-- microseconds (last_used 0 for never).
CREATE TABLE api_tokens (
	id        TEXT PRIMARY KEY,
	user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name      TEXT NOT NULL,
	hash      TEXT NOT NULL UNIQUE,
	scope     TEXT NOT NULL,
	chats     TEXT NOT NULL DEFAULT '',
	created   INTEGER NOT NULL,
	last_used INTEGER NOT NULL DEFAULT 0,
	revoked   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX api_tokens_user ON api_tokens (user_id, created, id);

CREATE TABLE webhooks (
	id         TEXT PRIMARY KEY,
	chat_id    TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	created_by TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	created    INTEGER NOT NULL,
	revoked    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX webhooks_chat ON webhooks (chat_id, created, id);

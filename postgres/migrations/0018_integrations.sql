-- Bots and integrations: API tokens and incoming webhooks. Only the SHA-256
-- of a token's or a webhook URL's secret is stored, as for sessions. A
-- token goes with its user and a webhook with its chat. chats lists the
-- chats a token is limited to (empty for every chat).
CREATE TABLE api_tokens (
	id        text COLLATE "C" PRIMARY KEY,
	user_id   text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name      text NOT NULL,
	hash      text COLLATE "C" NOT NULL UNIQUE,
	scope     text NOT NULL,
	chats     text[] NOT NULL DEFAULT '{}',
	created   timestamptz NOT NULL,
	last_used timestamptz,
	revoked   boolean NOT NULL DEFAULT false
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created, id);

CREATE TABLE webhooks (
	id         text COLLATE "C" PRIMARY KEY,
	chat_id    text COLLATE "C" NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	name       text NOT NULL,
	created_by text NOT NULL,
	hash       text COLLATE "C" NOT NULL UNIQUE,
	created    timestamptz NOT NULL,
	revoked    boolean NOT NULL DEFAULT false
);
CREATE INDEX webhooks_chat ON webhooks (chat_id, created, id);

-- Outgoing webhooks (issue 20): a chat calls url when a message starts
-- with one of its trigger words. The secret signs the calls, so it is kept
-- as it is. A chat's webhooks go with it.
CREATE TABLE outgoing_webhooks (
	id         text COLLATE "C" PRIMARY KEY,
	chat_id    text COLLATE "C" NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	name       text NOT NULL,
	url        text NOT NULL,
	triggers   text[] NOT NULL,
	secret     text NOT NULL,
	created_by text COLLATE "C" NOT NULL,
	created    timestamptz NOT NULL
);
CREATE INDEX outgoing_webhooks_chat ON outgoing_webhooks (chat_id, created, id);

-- Outgoing webhooks (issue 20): a chat calls url when a message starts
-- with one of its trigger words (triggers holds them separated by single
-- spaces; a trigger word has none). The secret signs the calls, so it is
-- kept as it is. A chat's webhooks go with it.
CREATE TABLE outgoing_webhooks (
	id         TEXT PRIMARY KEY,
	chat_id    TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	url        TEXT NOT NULL,
	triggers   TEXT NOT NULL,
	secret     TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX outgoing_webhooks_chat ON outgoing_webhooks (chat_id, created, id);

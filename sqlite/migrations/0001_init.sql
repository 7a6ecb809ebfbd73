-- Chatr's first schema. Times are INTEGER microseconds since the Unix epoch,
-- in UTC; booleans are 0 or 1.

CREATE TABLE users (
	id        TEXT PRIMARY KEY,
	name      TEXT NOT NULL,
	provider  TEXT NOT NULL,
	idle      INTEGER NOT NULL DEFAULT 0,
	last_seen INTEGER NOT NULL,
	created   INTEGER NOT NULL
) WITHOUT ROWID;

-- Sessions do not reference users: a session row is written at sign-in,
-- possibly before or without the user row, and deleting a user is not a
-- Store operation.
CREATE TABLE sessions (
	token_hash TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL,
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires);

-- last_message_id is the per-chat message counter: the ID of the newest
-- message, raised in the same transaction that inserts messages.
CREATE TABLE chats (
	id              TEXT PRIMARY KEY,
	name            TEXT NOT NULL,
	owner           TEXT NOT NULL,
	private         INTEGER NOT NULL,
	created         INTEGER NOT NULL,
	last_message_id INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX chats_listing ON chats (private, created, id);

CREATE TABLE members (
	chat_id   TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	user_id   TEXT NOT NULL,
	user_name TEXT NOT NULL,
	joined    INTEGER NOT NULL,
	PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_user ON members (user_id);

CREATE TABLE messages (
	chat_id        TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	id             INTEGER NOT NULL,
	from_user_id   TEXT NOT NULL,
	from_user_name TEXT NOT NULL,
	text           TEXT NOT NULL,
	time           INTEGER NOT NULL,
	PRIMARY KEY (chat_id, id)
) WITHOUT ROWID;

CREATE TABLE read_markers (
	user_id    TEXT NOT NULL,
	chat_id    TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	message_id INTEGER NOT NULL,
	PRIMARY KEY (user_id, chat_id)
) WITHOUT ROWID;
CREATE INDEX read_markers_chat ON read_markers (chat_id);

-- Chatr's first schema. Identifiers use the "C" collation so that ORDER BY
-- id sorts bytewise, as Go and the SQLite store do, whatever the database's
-- locale.

CREATE TABLE users (
	id        text COLLATE "C" PRIMARY KEY,
	name      text NOT NULL,
	provider  text NOT NULL,
	idle      boolean NOT NULL DEFAULT false,
	last_seen timestamptz NOT NULL,
	created   timestamptz NOT NULL
);

-- Sessions do not reference users: a session row is written at sign-in,
-- possibly before or without the user row, and deleting a user is not a
-- Store operation.
CREATE TABLE sessions (
	token_hash text COLLATE "C" PRIMARY KEY,
	user_id    text COLLATE "C" NOT NULL,
	created    timestamptz NOT NULL,
	expires    timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires);

-- last_message_id is the per-chat message counter: the ID of the newest
-- message, raised in the same transaction that inserts messages.
CREATE TABLE chats (
	id              text COLLATE "C" PRIMARY KEY,
	name            text NOT NULL,
	owner           text COLLATE "C" NOT NULL,
	private         boolean NOT NULL,
	created         timestamptz NOT NULL,
	last_message_id bigint NOT NULL DEFAULT 0
);
CREATE INDEX chats_listing ON chats (private, created, id);

CREATE TABLE members (
	chat_id   text COLLATE "C" NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	user_id   text COLLATE "C" NOT NULL,
	user_name text NOT NULL,
	joined    timestamptz NOT NULL,
	PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE messages (
	chat_id        text COLLATE "C" NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	id             bigint NOT NULL,
	from_user_id   text COLLATE "C" NOT NULL,
	from_user_name text NOT NULL,
	text           text NOT NULL,
	time           timestamptz NOT NULL,
	PRIMARY KEY (chat_id, id)
);

CREATE TABLE read_markers (
	user_id    text COLLATE "C" NOT NULL,
	chat_id    text COLLATE "C" NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	message_id bigint NOT NULL,
	PRIMARY KEY (user_id, chat_id)
);
CREATE INDEX read_markers_chat ON read_markers (chat_id);

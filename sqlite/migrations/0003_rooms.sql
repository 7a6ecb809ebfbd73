-- Rooms, people and moderation. Number 0002 belongs to another change; the
-- loader applies whatever is above the recorded version, in order.
--
-- Columns that need Go to compute (users.handle, users.name_fold,
-- chats.name_key) start NULL or empty and are filled by the store's backfill
-- when it opens the file, for rows of earlier releases.

ALTER TABLE users ADD COLUMN handle TEXT;
ALTER TABLE users ADD COLUMN name_fold TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN name_chosen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN banned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN banned_by TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN banned_at INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX users_handle ON users (handle);

-- name_key is chatr.NameKey(name) for the public group chat that holds the
-- name, NULL otherwise. Duplicates written by earlier releases keep NULL:
-- the oldest of them holds the name (see the backfill).
ALTER TABLE chats ADD COLUMN topic TEXT NOT NULL DEFAULT '';
ALTER TABLE chats ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public';
ALTER TABLE chats ADD COLUMN invite_policy TEXT NOT NULL DEFAULT 'members';
ALTER TABLE chats ADD COLUMN name_key TEXT;
UPDATE chats SET visibility = 'private' WHERE private = 1;
CREATE UNIQUE INDEX chats_name_key ON chats (name_key);
DROP INDEX chats_listing;
CREATE INDEX chats_listing ON chats (private, visibility, created, id);

ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member';
UPDATE members SET role = 'owner' WHERE user_id = (SELECT owner FROM chats WHERE chats.id = members.chat_id);

-- expires 0 is no expiry; max_uses 0 is no limit.
CREATE TABLE invites (
	token_hash TEXT PRIMARY KEY,
	chat_id    TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	created_by TEXT NOT NULL,
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	max_uses   INTEGER NOT NULL,
	uses       INTEGER NOT NULL DEFAULT 0,
	revoked    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX invites_chat ON invites (chat_id, created);

-- The moderation log outlives the chats it names: it is an audit trail.
CREATE TABLE mod_events (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	target_user TEXT NOT NULL,
	chat_id     TEXT NOT NULL,
	message_id  INTEGER NOT NULL,
	detail      TEXT NOT NULL,
	at          INTEGER NOT NULL
);

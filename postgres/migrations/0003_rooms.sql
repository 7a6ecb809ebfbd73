-- Rooms, people and moderation. Number 0002 belongs to another change; the
-- loader applies whatever is above the recorded version, in order.
--
-- Columns that need Go to compute (users.handle, users.name_fold,
-- chats.name_key) start NULL or empty and are filled by the store's backfill
-- when it opens the database, for rows of earlier releases.

ALTER TABLE users
	ADD COLUMN handle      text COLLATE "C",
	ADD COLUMN name_fold   text NOT NULL DEFAULT '',
	ADD COLUMN name_chosen boolean NOT NULL DEFAULT false,
	ADD COLUMN banned      boolean NOT NULL DEFAULT false,
	ADD COLUMN banned_by   text COLLATE "C" NOT NULL DEFAULT '',
	ADD COLUMN banned_at   timestamptz;
CREATE UNIQUE INDEX users_handle ON users (handle);

-- name_key is chatr.NameKey(name) for the public group chat that holds the
-- name, NULL otherwise. Duplicates written by earlier releases keep NULL:
-- the oldest of them holds the name (see the backfill).
ALTER TABLE chats
	ADD COLUMN topic         text NOT NULL DEFAULT '',
	ADD COLUMN visibility    text NOT NULL DEFAULT 'public',
	ADD COLUMN invite_policy text NOT NULL DEFAULT 'members',
	ADD COLUMN name_key      text COLLATE "C";
UPDATE chats SET visibility = 'private' WHERE private;
CREATE UNIQUE INDEX chats_name_key ON chats (name_key);
DROP INDEX chats_listing;
CREATE INDEX chats_listing ON chats (private, visibility, created, id);

ALTER TABLE members ADD COLUMN role text NOT NULL DEFAULT 'member';
UPDATE members m SET role = 'owner' FROM chats c WHERE c.id = m.chat_id AND c.owner = m.user_id;

-- expires NULL is no expiry; max_uses 0 is no limit.
CREATE TABLE invites (
	token_hash text COLLATE "C" PRIMARY KEY,
	chat_id    text COLLATE "C" NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	created_by text COLLATE "C" NOT NULL,
	created    timestamptz NOT NULL,
	expires    timestamptz,
	max_uses   integer NOT NULL,
	uses       integer NOT NULL DEFAULT 0,
	revoked    boolean NOT NULL DEFAULT false
);
CREATE INDEX invites_chat ON invites (chat_id, created);

-- The moderation log outlives the chats it names: it is an audit trail.
CREATE TABLE mod_events (
	id          bigserial PRIMARY KEY,
	actor       text COLLATE "C" NOT NULL,
	action      text NOT NULL,
	target_user text COLLATE "C" NOT NULL,
	chat_id     text COLLATE "C" NOT NULL,
	message_id  bigint NOT NULL,
	detail      text NOT NULL,
	at          timestamptz NOT NULL
);

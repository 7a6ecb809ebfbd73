-- Uploaded files' metadata; their bytes are blobs under blob_key (and
-- thumb_key, '' when there is no thumbnail). A file goes with its chat.
CREATE TABLE files (
	id        TEXT PRIMARY KEY,
	chat_id   TEXT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	user_id   TEXT NOT NULL,
	name      TEXT NOT NULL,
	size      INTEGER NOT NULL,
	type      TEXT NOT NULL,
	blob_key  TEXT NOT NULL,
	thumb_key TEXT NOT NULL DEFAULT '',
	width     INTEGER NOT NULL DEFAULT 0,
	height    INTEGER NOT NULL DEFAULT 0,
	created   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX files_chat ON files (chat_id, created, id);
CREATE INDEX files_user ON files (user_id);
CREATE INDEX files_blob ON files (blob_key);
CREATE INDEX files_thumb ON files (thumb_key) WHERE thumb_key <> '';

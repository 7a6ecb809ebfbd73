-- Uploaded files' metadata; their bytes are blobs under blob_key (and
-- thumb_key, '' when there is no thumbnail). A file goes with its chat.
CREATE TABLE files (
	id        text PRIMARY KEY,
	chat_id   text NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
	user_id   text NOT NULL,
	name      text NOT NULL,
	size      bigint NOT NULL,
	type      text NOT NULL,
	blob_key  text NOT NULL,
	thumb_key text NOT NULL DEFAULT '',
	width     integer NOT NULL DEFAULT 0,
	height    integer NOT NULL DEFAULT 0,
	created   timestamptz NOT NULL
);
CREATE INDEX files_chat ON files (chat_id, created, id);
CREATE INDEX files_user ON files (user_id);
CREATE INDEX files_blob ON files (blob_key);
CREATE INDEX files_thumb ON files (thumb_key) WHERE thumb_key <> '';

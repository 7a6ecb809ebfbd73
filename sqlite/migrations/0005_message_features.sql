-- Edits, deletions, reactions, replies and mentions. Number 0004 belongs to
-- another change; the loader applies every number not recorded yet.
--
-- reply_to is the id of the message answered (0 for none); mentions is the
-- JSON of chatr.Mentions ('' for none) and mention_all its All flag, for the
-- counts; edited and deleted are times in microseconds (0 for never).
ALTER TABLE messages ADD COLUMN reply_to INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN mentions TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN mention_all INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN edited INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;

-- One row per user, emoji and message; seq orders them as they were made.
CREATE TABLE reactions (
	seq        INTEGER PRIMARY KEY,
	chat_id    TEXT NOT NULL,
	message_id INTEGER NOT NULL,
	emoji      TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	FOREIGN KEY (chat_id, message_id) REFERENCES messages (chat_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX reactions_once ON reactions (chat_id, message_id, emoji, user_id);
CREATE INDEX reactions_message ON reactions (chat_id, message_id, seq);

-- The users a message mentions, for MentionCounts.
CREATE TABLE mentions (
	user_id    TEXT NOT NULL,
	chat_id    TEXT NOT NULL,
	message_id INTEGER NOT NULL,
	PRIMARY KEY (user_id, chat_id, message_id),
	FOREIGN KEY (chat_id, message_id) REFERENCES messages (chat_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX mentions_message ON mentions (chat_id, message_id);

-- Edits, deletions, reactions, replies and mentions. Number 0004 belongs to
-- another change; the loader applies every number not recorded yet.
--
-- reply_to is the id of the message answered (0 for none); mentions is the
-- JSON of chatr.Mentions ('' for none) and mention_all its All flag, for the
-- counts; edited and deleted are NULL for never.
ALTER TABLE messages
	ADD COLUMN reply_to    bigint NOT NULL DEFAULT 0,
	ADD COLUMN mentions    text NOT NULL DEFAULT '',
	ADD COLUMN mention_all boolean NOT NULL DEFAULT false,
	ADD COLUMN edited      timestamptz,
	ADD COLUMN deleted     timestamptz;

-- One row per user, emoji and message; seq orders them as they were made
-- (toggles of one message are serialised by a lock on its row).
CREATE TABLE reactions (
	seq        bigserial PRIMARY KEY,
	chat_id    text COLLATE "C" NOT NULL,
	message_id bigint NOT NULL,
	emoji      text COLLATE "C" NOT NULL,
	user_id    text COLLATE "C" NOT NULL,
	FOREIGN KEY (chat_id, message_id) REFERENCES messages (chat_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX reactions_once ON reactions (chat_id, message_id, emoji, user_id);
CREATE INDEX reactions_message ON reactions (chat_id, message_id, seq);

-- The users a message mentions, for MentionCounts.
CREATE TABLE mentions (
	user_id    text COLLATE "C" NOT NULL,
	chat_id    text COLLATE "C" NOT NULL,
	message_id bigint NOT NULL,
	PRIMARY KEY (user_id, chat_id, message_id),
	FOREIGN KEY (chat_id, message_id) REFERENCES messages (chat_id, id) ON DELETE CASCADE
);
CREATE INDEX mentions_message ON mentions (chat_id, message_id);

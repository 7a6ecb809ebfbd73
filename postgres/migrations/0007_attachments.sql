-- Attachments: a file carried by a message names it (message_id, 0 while
-- it is carried by none) and its place among the message's files. A file
-- goes with its message: deleting the message deletes these rows, and the
-- blob sweep their blobs.
ALTER TABLE files ADD COLUMN message_id bigint NOT NULL DEFAULT 0;
ALTER TABLE files ADD COLUMN position integer NOT NULL DEFAULT 0;
CREATE INDEX files_message ON files (chat_id, message_id, position) WHERE message_id <> 0;

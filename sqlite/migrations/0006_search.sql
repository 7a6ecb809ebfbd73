-- Message search (FTS5). Numbers 0004 and 0005 belong to other changes; the
-- loader applies every number not recorded yet.
--
-- messages has no rowid, which FTS5 needs, so search_docs gives each
-- indexed message one, numbered in the order they were indexed (about the
-- order they were stored): search pages newest first by it. search_fts is
-- contentless (the text stays in messages only) and indexes
-- chatr_search_doc(text): the text with each run of CJK characters replaced
-- by its character pairs (see chatr.CJKNgrams), since unicode61 would take
-- a whole CJK run for one word. That function is Go, registered by the
-- sqlite package: only Chatr writes messages to this file.
--
-- Indexing is the work of a background indexer, so that it costs the group
-- commit nothing: search_progress holds, per chat, the highest message id
-- indexed, and the indexer takes the messages above it (up to the chat's
-- last_message_id) in large batches. A chat without a row has none indexed,
-- which is how the messages of earlier releases are indexed while the
-- store serves.
CREATE TABLE search_progress (
	chat_id    TEXT PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
	indexed_id INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE search_docs (
	doc        INTEGER PRIMARY KEY,
	chat_id    TEXT NOT NULL,
	message_id INTEGER NOT NULL,
	UNIQUE (chat_id, message_id)
);

CREATE VIRTUAL TABLE search_fts USING fts5 (
	body,
	content = '',
	contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2'
);

-- Triggers keep indexed messages on their current text: an edit re-indexes
-- the message under its doc, an emptied (deleted) text leaves it out, a
-- deleted row (or chat) drops its doc. A message not indexed yet is read by
-- the indexer as it is then.
CREATE TRIGGER search_message_update AFTER UPDATE OF text ON messages WHEN new.text IS NOT old.text BEGIN
	DELETE FROM search_fts WHERE rowid = (SELECT doc FROM search_docs WHERE chat_id = old.chat_id AND message_id = old.id);
	INSERT INTO search_fts (rowid, body)
		SELECT doc, chatr_search_doc(new.text) FROM search_docs
		WHERE chat_id = new.chat_id AND message_id = new.id AND new.text <> '';
END;

CREATE TRIGGER search_message_delete AFTER DELETE ON messages BEGIN
	DELETE FROM search_fts WHERE rowid = (SELECT doc FROM search_docs WHERE chat_id = old.chat_id AND message_id = old.id);
	DELETE FROM search_docs WHERE chat_id = old.chat_id AND message_id = old.id;
END;

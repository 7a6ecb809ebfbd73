-- Message search (FTS5). Numbers 0004 and 0005 belong to other changes; the
-- loader applies every number not recorded yet.
--
-- messages has no rowid, which FTS5 needs, so search_docs gives each message
-- one: docs are numbered in the order messages are stored, and search pages
-- newest first by it. search_fts is contentless (the text stays in
-- messages only) and indexes chatr_search_doc(text): the text with each
-- run of CJK characters replaced by its character pairs (see
-- chatr.CJKNgrams), since unicode61 would take a whole CJK run for one word.
-- That function is Go, registered by the sqlite package: only Chatr writes
-- messages to this file.
--
-- Triggers keep the index on the current text: an edit re-indexes the
-- message under the same doc, an emptied (deleted) text leaves it out, a
-- deleted row (or chat) drops its doc.

CREATE TABLE search_docs (
	doc        INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the indexer goes by it
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

-- Indexing is the work of a background indexer, so that it costs the
-- group commit one row in search_docs per message: search_state.indexed is
-- the highest doc in search_fts, and the indexer takes the docs above it in
-- large batches. It also indexes the messages of earlier releases, given
-- their docs below, while the store serves.
CREATE TABLE search_state (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	indexed INTEGER NOT NULL
);
INSERT INTO search_state (id, indexed) VALUES (1, 0);

CREATE TRIGGER search_message_insert AFTER INSERT ON messages BEGIN
	INSERT INTO search_docs (chat_id, message_id) VALUES (new.chat_id, new.id);
END;

-- An edit of an indexed message re-indexes it here; one not indexed yet is
-- read by the indexer as it is then.
CREATE TRIGGER search_message_update AFTER UPDATE OF text ON messages WHEN new.text IS NOT old.text BEGIN
	DELETE FROM search_fts WHERE rowid = (SELECT doc FROM search_docs WHERE chat_id = old.chat_id AND message_id = old.id);
	INSERT INTO search_fts (rowid, body)
		SELECT doc, chatr_search_doc(new.text) FROM search_docs
		WHERE chat_id = new.chat_id AND message_id = new.id AND new.text <> ''
			AND doc <= (SELECT indexed FROM search_state);
END;

CREATE TRIGGER search_message_delete AFTER DELETE ON messages BEGIN
	DELETE FROM search_fts WHERE rowid = (SELECT doc FROM search_docs WHERE chat_id = old.chat_id AND message_id = old.id);
	DELETE FROM search_docs WHERE chat_id = old.chat_id AND message_id = old.id;
END;

-- The messages of earlier releases, oldest first, for the indexer.
INSERT INTO search_docs (chat_id, message_id) SELECT chat_id, id FROM messages ORDER BY time, chat_id, id;

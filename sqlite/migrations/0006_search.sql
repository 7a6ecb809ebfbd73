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

CREATE TRIGGER search_message_insert AFTER INSERT ON messages BEGIN
	INSERT INTO search_docs (chat_id, message_id) VALUES (new.chat_id, new.id);
	INSERT INTO search_fts (rowid, body) SELECT last_insert_rowid(), chatr_search_doc(new.text) WHERE new.text <> '';
END;

CREATE TRIGGER search_message_update AFTER UPDATE OF text ON messages WHEN new.text IS NOT old.text BEGIN
	DELETE FROM search_fts WHERE rowid = (SELECT doc FROM search_docs WHERE chat_id = old.chat_id AND message_id = old.id);
	INSERT OR IGNORE INTO search_docs (chat_id, message_id) VALUES (new.chat_id, new.id);
	INSERT INTO search_fts (rowid, body)
		SELECT doc, chatr_search_doc(new.text) FROM search_docs
		WHERE chat_id = new.chat_id AND message_id = new.id AND new.text <> '';
END;

CREATE TRIGGER search_message_delete AFTER DELETE ON messages BEGIN
	DELETE FROM search_fts WHERE rowid = (SELECT doc FROM search_docs WHERE chat_id = old.chat_id AND message_id = old.id);
	DELETE FROM search_docs WHERE chat_id = old.chat_id AND message_id = old.id;
END;

-- The messages of earlier releases, oldest first.
INSERT INTO search_docs (chat_id, message_id) SELECT chat_id, id FROM messages ORDER BY time, chat_id, id;
INSERT INTO search_fts (rowid, body)
	SELECT d.doc, chatr_search_doc(m.text)
	FROM search_docs d JOIN messages m ON m.chat_id = d.chat_id AND m.id = d.message_id
	WHERE m.text <> '';

-- Search by chat and words in one GIN index (issue 17). A user reads a
-- small part of all chats; with the words alone in the index, a word of
-- middling frequency made the search fetch every matching row of every
-- chat to learn its chat. btree_gin lets the index hold chat_id beside the
-- vector, so that the index itself answers "these words in these chats".
--
-- The extension is a contrib module like unaccent; without it the search
-- keeps the words-only index and still works, more slowly. The index is
-- built here while the table is small (a new database, a test); a larger
-- one is built by the store in the background with CREATE INDEX
-- CONCURRENTLY, with its progress in the log, so that an upgrade does not
-- lock the messages while it runs (postgres/searchindex.go).
DO $do$
BEGIN
	BEGIN
		CREATE EXTENSION IF NOT EXISTS btree_gin SCHEMA public;
	EXCEPTION WHEN OTHERS THEN
		RAISE NOTICE 'chatr: no btree_gin (%): search keeps the words-only index', SQLERRM;
	END;
	IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin')
		AND (SELECT count(*) FROM (SELECT 1 FROM messages LIMIT 10000) AS few) < 10000 THEN
		CREATE INDEX messages_search_chat ON messages USING gin (chat_id, search);
		DROP INDEX messages_search;
	END IF;
END
$do$;

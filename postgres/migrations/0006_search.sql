-- Message search: a tsvector per message under a GIN index. Numbers 0004 and
-- 0005 belong to other changes; the loader applies every number not
-- recorded yet.
--
-- The vector uses the 'simple' configuration (no stemming, no stop words:
-- chat is multilingual), after unaccent when the extension can be had, and
-- after replacing each run of CJK characters by its character pairs and
-- last character (chatr.CJKNgrams with tail), since the parser would take a
-- whole run for one word. Without unaccent (a server without the contrib
-- package, or a role that may not create it) accents are kept and must be
-- typed: 'café' does not find 'cafe'.
--
-- messages.search is a generated column, so an edit re-indexes the message
-- and an emptied (deleted) text leaves it out, with no trigger to forget,
-- and adding it here indexes the messages of earlier releases.

CREATE FUNCTION chatr_cjk_ngrams(t text, tail boolean) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
	out text := '';
	part text[];
	run text;
	n int;
BEGIN
	IF t !~ '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]' THEN
		RETURN t;
	END IF;
	FOR part IN SELECT regexp_matches(t, '([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+)|([^\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+)', 'g') LOOP
		IF part[1] IS NULL THEN
			out := out || part[2];
			CONTINUE;
		END IF;
		run := part[1];
		n := length(run);
		out := out || ' ';
		IF n = 1 THEN
			out := out || run;
		ELSE
			FOR i IN 1 .. n - 1 LOOP
				out := out || substr(run, i, 2) || ' ';
			END LOOP;
			IF tail THEN
				out := out || substr(run, n, 1);
			END IF;
		END IF;
		out := out || ' ';
	END LOOP;
	RETURN out;
END
$fn$;

-- chatr_search_fold(t) is t as both sides compare it: unaccented when the
-- extension is there. The extension goes to schema public, shared by every
-- schema of the database, and is named with its schema so that no
-- search_path changes what the function means.
DO $do$
DECLARE
	ext_schema text;
BEGIN
	BEGIN
		CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;
	EXCEPTION WHEN OTHERS THEN
		RAISE NOTICE 'chatr: no unaccent (%): search keeps accents', SQLERRM;
	END;
	SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent';
	IF ext_schema IS NULL THEN
		EXECUTE 'CREATE FUNCTION chatr_search_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT t $$';
	ELSE
		EXECUTE format('CREATE FUNCTION chatr_search_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT %I.unaccent(%L::regdictionary, t) $$',
			ext_schema, ext_schema || '.unaccent');
	END IF;
	EXECUTE format('CREATE FUNCTION chatr_search_vector(t text) RETURNS tsvector LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT to_tsvector(''pg_catalog.simple'', %I.chatr_cjk_ngrams(%I.chatr_search_fold(t), true)) $$',
		current_schema(), current_schema());
END
$do$;

ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (chatr_search_vector(text)) STORED;
CREATE INDEX messages_search ON messages USING gin (search);

-- Newest first: a frequent word is read down this index, filtered by the
-- vector, and stops after a page; a rare one goes through the GIN index.
CREATE INDEX messages_time ON messages (time);

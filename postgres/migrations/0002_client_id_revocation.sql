-- Idempotency keys and persistent token revocation.
--
-- client_id is the sender's key for a message ('' when the client sent
-- none): at most one message per sender and key, so a retried send finds
-- the first instead of storing a copy.
ALTER TABLE messages ADD COLUMN client_id text COLLATE "C" NOT NULL DEFAULT '';
CREATE UNIQUE INDEX messages_client_id ON messages (from_user_id, client_id) WHERE client_id <> '';

-- tokens_revoked: access tokens of the user issued before this moment are
-- refused; NULL = never.
ALTER TABLE users ADD COLUMN tokens_revoked timestamptz;

-- Files uploaded but carried by no message, oldest first: the sweep that
-- removes those left unsent reads them here.
CREATE INDEX files_unsent ON files (created, id) WHERE message_id = 0;

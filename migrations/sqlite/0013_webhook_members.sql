-- Issue 15: a webhook hears only of records the member of the key (or --member) that created it
-- may see (NULL: the administrator, who hears of every record). After 0012, which made the table.
ALTER TABLE webhooks ADD COLUMN member_id TEXT;

-- Owners and privacy levels: a record's owner is the member who created it (settable); an API key
-- acts for a member, and members share teams. `private` records are visible to their owner,
-- `team` records to the owner's teammates too, `account` records to everyone (src/records/access.rs).
ALTER TABLE records ADD COLUMN owner_id TEXT;
ALTER TABLE api_keys ADD COLUMN member_id TEXT;
-- An export holds what its requester may see, also when a worker runs it later.
ALTER TABLE export_jobs ADD COLUMN member_id TEXT;
CREATE TABLE team_members (
    team_id   TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (team_id, member_id)
);
CREATE INDEX team_members_member ON team_members (member_id, team_id);

//! Members and teams as privacy levels see them (spec 000), and the records each member owns
//! (spec 003's member record counts).
//!
//! In: member and team ids (the store keeps no other data about members: they are whoever the
//! API keys act for). Out: team memberships; per-module counts of a member's records. Guarantees:
//! a count holds only records the caller may see, so it cannot reveal a private record.

use std::collections::BTreeMap;

use super::RecordService;
use crate::error::{Error, Result};
use crate::store::{Sql, Store};

fn check_id(what: &str, id: &str) -> Result<String> {
    let id = id.trim();
    if id.is_empty() || id.len() > 200 {
        return Err(Error::invalid_field(
            what,
            "must be 1 to 200 characters",
            None,
        ));
    }
    Ok(id.to_string())
}

/// Puts `member` in `team` (once; joining again changes nothing).
pub async fn join_team(store: &Store, member: &str, team: &str) -> Result<()> {
    let (member, team) = (check_id("member", member)?, check_id("team", team)?);
    let mut sql = Sql::new("INSERT INTO team_members (team_id, member_id) VALUES (");
    sql.bind_list([team, member])
        .push(") ON CONFLICT (team_id, member_id) DO NOTHING");
    store.execute(sql).await?;
    Ok(())
}

/// Takes `member` out of `team`.
pub async fn leave_team(store: &Store, member: &str, team: &str) -> Result<()> {
    let mut sql = Sql::new("DELETE FROM team_members WHERE team_id = ");
    sql.bind(team.trim())
        .push(" AND member_id = ")
        .bind(member.trim());
    store.execute(sql).await?;
    Ok(())
}

/// The teams `member` belongs to, sorted.
pub async fn teams_of(store: &Store, member: &str) -> Result<Vec<String>> {
    let mut sql = Sql::new("SELECT team_id FROM team_members WHERE member_id = ");
    sql.bind(member.trim()).push(" ORDER BY team_id");
    store.fetch_mapped(sql, |row| row.text("team_id")).await
}

impl RecordService {
    /// How many live records of each module `member` owns, counting only what this service's
    /// caller may see; every module is listed, with 0 where there are none.
    pub async fn member_record_counts(&self, member: &str) -> Result<BTreeMap<String, u64>> {
        let member = check_id("memberId", member)?;
        let mut counts: BTreeMap<String, u64> = self
            .modules
            .list()
            .await?
            .into_iter()
            .map(|m| (m.slug().to_string(), 0))
            .collect();
        let mut sql = Sql::new(
            "SELECT m.slug AS slug, COUNT(*) AS n FROM records r JOIN modules m ON m.id = r.module_id \
             WHERE r.deleted_at IS NULL AND r.owner_id = ",
        );
        sql.bind(member);
        self.access.restrict(&mut sql, "r");
        sql.push(" GROUP BY m.slug");
        for (slug, n) in self
            .store
            .fetch_mapped(sql, |row| {
                Ok((row.text("slug")?, row.int("n")?.max(0) as u64))
            })
            .await?
        {
            counts.insert(slug, n);
        }
        Ok(counts)
    }
}

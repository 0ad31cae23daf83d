//! Who may see and change which records: privacy levels (spec 000) enforced in every query.
//!
//! In: the caller ([`Access`]: the store's administrator, or a member acting through an API key
//! or `--member`) and a record query. Out: the query restricted to the records the caller may
//! see. Guarantees: `account` records are visible to every caller; `team` records to their owner
//! and to members who share a team with the owner; `private` records to their owner only (and
//! to the administrator). The condition is part of the SQL of every read and of the lookups that
//! precede a change, so what a caller cannot see it cannot change, and no read path is left
//! out by forgetting a check after the fact. Member ids are bound, never spliced.

use std::collections::HashSet;

use crate::error::Result;
use crate::store::{Sql, Tx, statement_pages};

/// The caller of a records operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Access {
    /// The store's administrator (the command line without `--member`, an API key for no
    /// member): every record.
    #[default]
    Everything,
    /// A member: what the privacy levels let them see.
    Member(String),
}

impl Access {
    pub fn member_id(&self) -> Option<&str> {
        match self {
            Access::Everything => None,
            Access::Member(id) => Some(id),
        }
    }

    /// Appends ` AND (…)` to `sql`: the records of `alias` this caller may see.
    pub(crate) fn restrict(&self, sql: &mut Sql, alias: &str) {
        if let Some(condition) = self.condition(sql, alias) {
            sql.push(" AND ").push(&condition);
        }
    }

    /// The condition on the records of `alias` this caller may see, its values bound in `sql`
    /// (for callers that place it themselves, e.g. in a join); `None`: every record.
    pub(crate) fn condition(&self, sql: &mut Sql, alias: &str) -> Option<String> {
        let Access::Member(member) = self else {
            return None;
        };
        let member = sql.arg(member.clone());
        Some(visible(alias, &member))
    }

    /// Those of the record `ids` this caller may see (privacy levels only: trashed records
    /// count too).
    pub(crate) async fn visible_ids(&self, tx: &mut Tx, ids: &[&str]) -> Result<HashSet<String>> {
        let mut seen = HashSet::new();
        for page in statement_pages(ids, 500) {
            let mut sql = Sql::new("SELECT r.id FROM records r WHERE r.id IN (");
            sql.bind_list(page.iter().copied()).push(")");
            self.restrict(&mut sql, "r");
            for row in tx.fetch_all(sql).await? {
                seen.insert(row.text("id")?);
            }
        }
        Ok(seen)
    }

    /// The same condition for a statement with positional parameters (`?N`), the member bound
    /// at `?index` (the SQLite bulk paths); `None`: every record.
    pub(crate) fn positional_condition(&self, alias: &str, index: usize) -> Option<String> {
        self.member_id()
            .map(|_| visible(alias, &format!("?{index}")))
    }
}

/// `alias` rows visible to the member whose id the placeholder `member` holds.
fn visible(alias: &str, member: &str) -> String {
    format!(
        "({alias}.privacy_level = 'account' OR {alias}.owner_id = {member} \
         OR ({alias}.privacy_level = 'team' AND {alias}.owner_id IN (SELECT teammate.member_id \
         FROM team_members teammate JOIN team_members me ON me.team_id = teammate.team_id \
         WHERE me.member_id = {member})))"
    )
}

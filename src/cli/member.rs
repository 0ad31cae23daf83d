//! `recordport member …`: the teams a member belongs to (what the `team` privacy level shares
//! with) and the records each member owns. One library call each.

use clap::Subcommand;
use serde_json::json;

use super::{Output, examples, rows_table};
use crate::error::Result;
use crate::records::RecordService;
use crate::records::members;

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Put a member in a team: records the member owns at the team level become visible to
    /// the team's other members.
    #[command(after_help = examples(&["member join alice --team sales"]))]
    Join {
        /// The member's id (as API keys name it with --member).
        member: String,
        /// The team's id.
        #[arg(long)]
        team: String,
    },
    /// Take a member out of a team.
    #[command(after_help = examples(&["member leave alice --team sales"]))]
    Leave {
        /// The member's id.
        member: String,
        /// The team's id.
        #[arg(long)]
        team: String,
    },
    /// The teams of a member.
    #[command(after_help = examples(&["member teams alice"]))]
    Teams {
        /// The member's id.
        member: String,
    },
    /// How many records of each module a member owns (only what you may see: see --member).
    #[command(
        after_help = examples(&["member counts alice", "--member bob member counts alice"])
    )]
    Counts {
        /// The member whose records are counted.
        member: String,
    },
}

pub async fn run(service: &RecordService, cmd: MemberCommand, out: &Output) -> Result<()> {
    let store = service.store();
    match cmd {
        MemberCommand::Join { member, team } => {
            members::join_team(store, &member, &team).await?;
            let teams = members::teams_of(store, &member).await?;
            out.print(&json!({ "memberId": member, "teams": teams }), || {
                format!("{member} is in {}", teams.join(", "))
            })
        }
        MemberCommand::Leave { member, team } => {
            members::leave_team(store, &member, &team).await?;
            let teams = members::teams_of(store, &member).await?;
            out.print(&json!({ "memberId": member, "teams": teams }), || {
                format!("{member} left {team}")
            })
        }
        MemberCommand::Teams { member } => {
            let teams = members::teams_of(store, &member).await?;
            out.print(&json!({ "memberId": member, "teams": teams }), || {
                teams.join("\n")
            })
        }
        MemberCommand::Counts { member } => {
            let counts = service.member_record_counts(&member).await?;
            out.print(&json!({ "counts": counts }), || {
                rows_table(&["module", "records"], &counts, |(module, n)| {
                    vec![module.clone(), n.to_string()]
                })
            })
        }
    }
}

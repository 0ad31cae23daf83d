//! `recordport apikey …`: create (the key is printed once), list and revoke API keys.

use clap::{Args, Subcommand};
use serde_json::json;

use super::{Output, examples, rows_table};
use crate::apikeys::{self, Scope, scopes_text};
use crate::error::Result;
use crate::records::RecordService;
use crate::records::members;

#[derive(Debug, Args)]
pub struct ApikeyArgs {
    #[command(flatten)]
    scope: super::scope::NoAuthor,
    #[command(subcommand)]
    pub command: ApikeyCommand,
}

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create a key; it is printed once and only its SHA-256 digest is stored.
    #[command(
        after_help = examples(&["apikey create --name crm-sync --scopes records:read,records:write"])
    )]
    Create {
        /// A name that says who or what uses the key.
        #[arg(long)]
        name: String,
        /// Comma-separated: records:read, records:write, imports:read, imports:write,
        /// exports:read, exports:write, webhooks:read, webhooks:write.
        #[arg(long)]
        scopes: String,
        /// The member the key acts for: its requests see and change only what that member's
        /// privacy levels allow, and records it creates are theirs. Without: an administrator's
        /// key, which sees every record.
        #[arg(long)]
        member: Option<String>,
        /// Teams the member belongs to (repeat the option); kept for the member, not the key.
        #[arg(long = "team", requires = "member")]
        teams: Vec<String>,
    },
    /// List the keys (never their secrets).
    #[command(after_help = examples(&["apikey list"]))]
    List,
    /// Revoke a key by id; requests with it get 401 from then on.
    #[command(after_help = examples(&["apikey revoke key_0190c3b1-…"]))]
    Revoke {
        /// The key's id (key_…), as `apikey list` shows it.
        id: String,
    },
}

pub async fn run(service: &RecordService, cmd: ApikeyCommand, out: &Output) -> Result<()> {
    let store = service.store();
    match cmd {
        ApikeyCommand::Create {
            name,
            scopes,
            member,
            teams,
        } => {
            let scopes = Scope::parse_list(&scopes)?;
            let created = apikeys::create_for(store, &name, &scopes, member.as_deref()).await?;
            if let Some(member) = &member {
                for team in &teams {
                    members::join_team(store, member, team).await?;
                }
            }
            out.print(&created, || {
                format!(
                    "{}\n\nkey {} ({}) with scopes {}\nThis is the only time the key is shown: keep it now.",
                    created.secret,
                    created.key.id,
                    created.key.name,
                    scopes_text(&created.key.scopes)
                )
            })
        }
        ApikeyCommand::List => {
            let keys = apikeys::list(store).await?;
            out.print(&json!({ "keys": keys }), || {
                rows_table(
                    &[
                        "id",
                        "name",
                        "prefix",
                        "scopes",
                        "created",
                        "last used",
                        "revoked",
                    ],
                    &keys,
                    |k| {
                        vec![
                            k.id.clone(),
                            k.name.clone(),
                            format!("{}…", k.key_prefix),
                            scopes_text(&k.scopes),
                            k.created_date_time.clone(),
                            k.last_used_date_time.clone().unwrap_or_default(),
                            k.revoked_date_time.clone().unwrap_or_default(),
                        ]
                    },
                )
            })
        }
        ApikeyCommand::Revoke { id } => {
            let key = apikeys::revoke(store, &id).await?;
            out.print(&json!({ "key": key }), || {
                format!("revoked {} ({})", key.id, key.name)
            })
        }
    }
}

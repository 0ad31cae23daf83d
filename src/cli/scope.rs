//! Which global options a command takes. The global options (`--db`, `--json`, `--user-id`, …)
//! reach every command; a command with no use for some of them flattens one of these groups,
//! which shadows those options: they leave its help and are refused with a reason if given,
//! instead of being accepted and ignored.
//!
//! (clap copies a global option into a subcommand only when the subcommand has no option of the
//! same id; the shadow keeps the global's value type, so the top level still reads its default.)

use clap::Args;

/// The heading the global options are listed under in every command's help.
pub const GLOBAL_OPTIONS: &str = "Global options";

fn refuse(option: &str, why: &str) -> String {
    format!("{option} does not apply here: {why}")
}

fn no_store(_: &str) -> Result<String, String> {
    Err(refuse("--db", "this command opens no database"))
}

fn no_cache(_: &str) -> Result<u32, String> {
    Err(refuse("--cache-mib", "this command opens no database"))
}

fn no_author(_: &str) -> Result<String, String> {
    Err(refuse(
        "--user-id/--user-name",
        "this command records no author (imports, exports and record changes do)",
    ))
}

fn no_member(_: &str) -> Result<String, String> {
    Err(refuse(
        "--member",
        "this command reads and changes no records for a member (a server acts for each request's key)",
    ))
}

/// A flag's shadow: its default ("false") parses, the flag itself is refused.
fn no_json(value: &str) -> Result<bool, String> {
    match value {
        "false" => Ok(false),
        _ => Err(refuse(
            "--json",
            "this command prints no result to format (a service logs; see --log-json)",
        )),
    }
}

/// For commands that record no author: `--user-id` and `--user-name` shadowed.
#[derive(Debug, Args)]
pub struct NoAuthor {
    #[arg(long, hide = true, value_parser = no_author)]
    user_id: Option<String>,
    #[arg(long, hide = true, value_parser = no_author)]
    user_name: Option<String>,
}

/// For the services (`serve`, `worker`): no author, no result to print.
#[derive(Debug, Args)]
pub struct ServiceScope {
    #[command(flatten)]
    author: NoAuthor,
    #[arg(long, hide = true, value_parser = no_member)]
    member: Option<String>,
    #[arg(long, hide = true, action = clap::ArgAction::SetTrue, value_parser = no_json)]
    json: bool,
}

/// For commands that open no database (`bench`): no store, no author.
#[derive(Debug, Args)]
pub struct NoStoreScope {
    #[command(flatten)]
    author: NoAuthor,
    #[arg(long, hide = true, value_parser = no_member)]
    member: Option<String>,
    #[arg(long, hide = true, value_parser = no_store)]
    db: Option<String>,
    #[arg(long, hide = true, value_parser = no_cache)]
    cache_mib: Option<u32>,
    #[arg(long, hide = true, action = clap::ArgAction::SetTrue, value_parser = no_json)]
    json: bool,
}

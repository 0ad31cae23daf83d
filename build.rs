// `sqlx::migrate!` embeds the SQL files of `migrations/` at compile time; without this, adding a
// migration would not rebuild the crate (sqlx's own advice: `sqlx migrate build-script`).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

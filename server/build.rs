//! Rebuilds the server when a migration changes: `sqlx::migrate!` embeds the migration files,
//! and Cargo does not see files a macro reads.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

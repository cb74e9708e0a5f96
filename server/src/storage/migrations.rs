//! Schema migrations: sqlx's migrator over `migrations/sqlite` and `migrations/postgres`,
//! embedded at build time and recorded in `_sqlx_migrations` with their checksums (a migration
//! edited after it ran is refused at startup instead of silently diverging).
//!
//! Databases made before Holdfast used sqlx's migrator recorded their versions in
//! `schema_migrations`, by a hand-written runner. Each backend's `migrate` first moves such a
//! database over with [`baselined`]: the versions it lists are recorded as applied, with the
//! checksums of the same files, and the old table is dropped, in one transaction; the migrator
//! then applies only what is newer.

use sqlx::migrate::{Migration, Migrator};

/// The migrations `versions` (read from an old `schema_migrations`) name, as the migrator has
/// them; an unknown version means the database is newer than this build, so nothing is moved.
pub(super) fn baselined<'m>(
    migrator: &'m Migrator,
    versions: &[i64],
) -> anyhow::Result<Vec<&'m Migration>> {
    versions
        .iter()
        .map(|version| {
            migrator
                .iter()
                .find(|m| m.version == *version)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "the database records migration {version}, which this build does not \
                         have: it was made by a newer Holdfast"
                    )
                })
        })
        .collect()
}

/// The row sqlx's migrator keeps for an applied migration, for the baseline to insert.
pub(super) const RECORD_APPLIED: &str = "INSERT INTO _sqlx_migrations \
     (version, description, success, checksum, execution_time) VALUES ($1, $2, TRUE, $3, 0) \
     ON CONFLICT (version) DO NOTHING";

/// Moves the versions the old runner recorded in `schema_migrations` to sqlx's table, with this
/// build's checksums ([`baselined`]), and drops the old table: in the caller's transaction, on
/// either database.
pub(super) async fn move_versions<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    migrator: &Migrator,
) -> anyhow::Result<()>
where
    DB: sqlx::Database,
    DB::Connection: sqlx::migrate::Migrate,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    use sqlx::migrate::Migrate as _;
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&mut **tx)
            .await?;
    (**tx).ensure_migrations_table().await?;
    for m in baselined(migrator, &versions)? {
        sqlx::query(RECORD_APPLIED)
            .bind(m.version)
            .bind(&*m.description)
            .bind(&*m.checksum)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::raw_sql("DROP TABLE schema_migrations")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_the_build_does_not_have_is_refused_by_name() {
        let migrator = sqlx::migrate!("./migrations/sqlite");
        assert_eq!(baselined(&migrator, &[1, 2]).unwrap().len(), 2);
        let e = baselined(&migrator, &[1, 9_999]).unwrap_err().to_string();
        assert!(e.contains("9999") && e.contains("newer"), "{e}");
    }
}

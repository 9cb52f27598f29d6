//! Installation-wide counts for the admin dashboard.

use crate::db::Db;

use crate::error::AppResult;

// Served as is to ADMINs as `SystemStatus.counts`.
/// What the database holds.
#[derive(async_graphql::SimpleObject)]
#[graphql(name = "SystemCounts")]
pub struct Counts {
    /// Accounts, disabled ones included.
    pub users: i64,
    /// Projects.
    pub projects: i64,
    /// Runs.
    pub runs: i64,
    /// Metric points: exact up to 1,000,000, PostgreSQL's estimate above.
    pub metric_points: i64,
    /// Artifacts, in any state.
    pub artifacts: i64,
    /// Objects queued for deletion from the object store.
    pub pending_object_deletions: i64,
}

/// One statement. Metric points are counted exactly while PostgreSQL estimates fewer than
/// a million (the count's subquery then runs; above, the estimate is the answer).
#[tracing::instrument(skip(db))]
pub async fn counts(db: &Db) -> AppResult<Counts> {
    let counts = sqlx::query_as!(
        Counts,
        r#"SELECT (SELECT count(*) FROM users) AS "users!",
                (SELECT count(*) FROM projects) AS "projects!",
                (SELECT count(*) FROM runs) AS "runs!",
                (SELECT CASE WHEN c.reltuples < 1000000 THEN (SELECT count(*) FROM metric_points)
                             ELSE c.reltuples::bigint END
                 FROM pg_class c WHERE c.oid = 'metric_points'::regclass) AS "metric_points!",
                (SELECT count(*) FROM artifacts) AS "artifacts!",
                (SELECT count(*) FROM storage_deletions) AS "pending_object_deletions!""#
    )
    .fetch_one(db)
    .await?;
    Ok(counts)
}

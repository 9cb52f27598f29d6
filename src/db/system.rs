//! Installation-wide counts for the admin dashboard.

use sqlx::PgPool;

use crate::error::AppResult;

pub struct Counts {
    pub users: i64,
    pub projects: i64,
    pub runs: i64,
    pub metric_points: i64,
    pub artifacts: i64,
    pub pending_object_deletions: i64,
}

/// One statement. Metric points are counted exactly while PostgreSQL estimates fewer than
/// a million (the count's subquery then runs; above, the estimate is the answer).
#[tracing::instrument(skip(db))]
pub async fn counts(db: &PgPool) -> AppResult<Counts> {
    let row = sqlx::query!(
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
    Ok(Counts {
        users: row.users,
        projects: row.projects,
        runs: row.runs,
        metric_points: row.metric_points,
        artifacts: row.artifacts,
        pending_object_deletions: row.pending_object_deletions,
    })
}

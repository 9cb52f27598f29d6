//! Runs: their lifecycle, params (write-once), tags (mutable) and metrics (full history
//! plus the latest value per key). Every batch write is one statement over arrays.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Where a run is in its lifecycle: RUNNING, then one of the terminal states.
#[derive(
    async_graphql::Enum,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    sqlx::Type,
    serde::Serialize,
    serde::Deserialize,
)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
/// Where a run is in its life.
pub enum RunStatus {
    /// Started and not ended.
    Running,
    /// Ended as planned.
    Finished,
    /// Ended by an error.
    Failed,
    /// Stopped from outside.
    Killed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: Uuid,
    pub experiment_id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyValueRow {
    pub run_id: Uuid,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MetricRow {
    pub run_id: Uuid,
    pub key: String,
    pub value: f64,
    pub step: i64,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PointRow {
    pub id: i64,
    pub step: i64,
    pub value: f64,
    pub timestamp: DateTime<Utc>,
}

/// One metric point to log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewPoint {
    pub key: String,
    pub value: f64,
    pub step: i64,
    pub timestamp: DateTime<Utc>,
}

/// Creates a run with its first params and tags, in one transaction.
#[tracing::instrument(skip(db, params, tags))]
pub async fn insert(
    db: &PgPool,
    experiment_id: Uuid,
    project_id: Uuid,
    name: &str,
    params: &[(String, String)],
    tags: &[(String, String)],
    created_by: Uuid,
) -> AppResult<RunRow> {
    let mut tx = db.begin().await?;
    let row = sqlx::query_as!(
        RunRow,
        r#"INSERT INTO runs (id, experiment_id, project_id, name, created_by)
           VALUES ($1, $2, $3, $4, $5)
           RETURNING id, experiment_id, project_id, name, status AS "status: RunStatus",
                     started_at, ended_at, created_by, created_at"#,
        Uuid::now_v7(),
        experiment_id,
        project_id,
        name,
        created_by,
    )
    .fetch_one(&mut *tx)
    .await?;
    let (pk, pv) = split(params);
    let (tk, tv) = split(tags);
    sqlx::query!(
        "WITH p AS (INSERT INTO run_params (run_id, key, value)
                    SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t(k, v))
         INSERT INTO run_tags (run_id, key, value)
         SELECT $1, k, v FROM unnest($4::text[], $5::text[]) AS t(k, v)",
        row.id,
        &pk as &[&str],
        &pv as &[&str],
        &tk as &[&str],
        &tv as &[&str],
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

fn split(pairs: &[(String, String)]) -> (Vec<&str>, Vec<&str>) {
    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).unzip()
}

/// Renames a run or moves it along its lifecycle; `endedAt` is set when it leaves RUNNING.
#[tracing::instrument(skip(db))]
pub async fn update(
    db: &PgPool,
    id: Uuid,
    name: Option<&str>,
    status: Option<RunStatus>,
) -> AppResult<Option<RunRow>> {
    let row = sqlx::query_as!(
        RunRow,
        r#"UPDATE runs SET name = COALESCE($2, name),
                  status = COALESCE($3, status),
                  ended_at = CASE WHEN $3 IS NULL THEN ended_at
                                  WHEN $3 = 'RUNNING' THEN NULL
                                  ELSE COALESCE(ended_at, now()) END,
                  updated_at = now()
           WHERE id = $1
           RETURNING id, experiment_id, project_id, name, status AS "status: RunStatus",
                     started_at, ended_at, created_by, created_at"#,
        id,
        name,
        status.map(RunStatus::as_str),
    )
    .fetch_optional(db)
    .await?;
    Ok(row)
}

#[tracing::instrument(skip(db))]
pub async fn delete(db: &PgPool, id: Uuid) -> AppResult<bool> {
    let done = sqlx::query!("DELETE FROM runs WHERE id = $1", id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

#[tracing::instrument(skip(db))]
pub async fn find_many(db: &PgPool, ids: &[Uuid]) -> AppResult<Vec<RunRow>> {
    let rows = sqlx::query_as!(
        RunRow,
        r#"SELECT id, experiment_id, project_id, name, status AS "status: RunStatus",
                  started_at, ended_at, created_by, created_at
           FROM runs WHERE id = ANY($1)"#,
        ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// One page of runs for each experiment in the default order (oldest first: creation
/// time, then id), in one statement; `after` is the last (creation time, id) seen.
#[tracing::instrument(skip(db))]
pub async fn pages_by_experiment(
    db: &PgPool,
    experiment_ids: &[Uuid],
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> AppResult<Vec<RunRow>> {
    let rows = sqlx::query_as!(
        RunRow,
        r#"SELECT r.id AS "id!", r.experiment_id AS "experiment_id!", r.project_id AS "project_id!",
                  r.name AS "name!", r.status AS "status!: RunStatus", r.started_at AS "started_at!",
                  r.ended_at, r.created_by, r.created_at AS "created_at!"
           FROM unnest($1::uuid[]) AS parent(id)
           CROSS JOIN LATERAL (
               SELECT * FROM runs
               WHERE experiment_id = parent.id
                 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
               ORDER BY created_at, id LIMIT $4
           ) r"#,
        experiment_ids,
        after.map(|a| a.0),
        after.map(|a| a.1),
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// Logs params, all or nothing: a key already set to another value is a conflict and
/// nothing is written. One statement.
#[tracing::instrument(skip(db, params))]
pub async fn log_params(db: &PgPool, run_id: Uuid, params: &[(String, String)]) -> AppResult<()> {
    let (keys, values) = split(params);
    let conflicts: Vec<String> = sqlx::query_scalar!(
        r#"WITH input AS (SELECT * FROM unnest($2::text[], $3::text[]) AS t(key, value)),
              conflicts AS (
                  SELECT i.key FROM input i
                  JOIN run_params p ON p.run_id = $1 AND p.key = i.key AND p.value <> i.value),
              written AS (
                  INSERT INTO run_params (run_id, key, value)
                  SELECT $1, key, value FROM input WHERE NOT EXISTS (SELECT 1 FROM conflicts)
                  ON CONFLICT (run_id, key) DO NOTHING)
         SELECT key AS "key!" FROM conflicts ORDER BY key"#,
        run_id,
        &keys as &[&str],
        &values as &[&str],
    )
    .fetch_all(db)
    .await?;
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(AppError::Conflict(format!(
            "params are write-once and these already have another value: {}; nothing was written",
            conflicts.join(", ")
        )))
    }
}

/// Sets tags (insert or overwrite), one statement.
#[tracing::instrument(skip(db, tags))]
pub async fn set_tags(db: &PgPool, run_id: Uuid, tags: &[(String, String)]) -> AppResult<()> {
    let (keys, values) = split(tags);
    sqlx::query!(
        "INSERT INTO run_tags (run_id, key, value)
         SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t(k, v)
         ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value",
        run_id,
        &keys as &[&str],
        &values as &[&str],
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Appends metric points to the history and moves each key's latest value forward (by
/// step, then timestamp) — one statement, so all or nothing.
#[tracing::instrument(skip(db, points), fields(points = points.len()))]
pub async fn log_metrics(db: &PgPool, run_id: Uuid, points: &[NewPoint]) -> AppResult<u64> {
    let keys: Vec<&str> = points.iter().map(|p| p.key.as_str()).collect();
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    let steps: Vec<i64> = points.iter().map(|p| p.step).collect();
    let stamps: Vec<DateTime<Utc>> = points.iter().map(|p| p.timestamp).collect();
    sqlx::query!(
        "WITH input AS (
             SELECT * FROM unnest($2::text[], $3::float8[], $4::int8[], $5::timestamptz[])
                 WITH ORDINALITY AS t(key, value, step, ts, n)),
         history AS (
             INSERT INTO metric_points (run_id, key, value, step, timestamp)
             SELECT $1, key, value, step, ts FROM input ORDER BY n)
         INSERT INTO latest_metrics AS l (run_id, key, value, step, timestamp)
         SELECT DISTINCT ON (key) $1, key, value, step, ts FROM input
         ORDER BY key, step DESC, ts DESC, n DESC
         ON CONFLICT (run_id, key) DO UPDATE
             SET value = EXCLUDED.value, step = EXCLUDED.step, timestamp = EXCLUDED.timestamp
             WHERE (EXCLUDED.step, EXCLUDED.timestamp) >= (l.step, l.timestamp)",
        run_id,
        &keys as &[&str],
        &values,
        &steps,
        &stamps,
    )
    .execute(db)
    .await?;
    Ok(points.len() as u64)
}

#[tracing::instrument(skip(db))]
pub async fn params_of(db: &PgPool, run_ids: &[Uuid]) -> AppResult<Vec<KeyValueRow>> {
    let rows = sqlx::query_as!(
        KeyValueRow,
        "SELECT run_id, key, value FROM run_params WHERE run_id = ANY($1) ORDER BY run_id, key",
        run_ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn tags_of(db: &PgPool, run_ids: &[Uuid]) -> AppResult<Vec<KeyValueRow>> {
    let rows = sqlx::query_as!(
        KeyValueRow,
        "SELECT run_id, key, value FROM run_tags WHERE run_id = ANY($1) ORDER BY run_id, key",
        run_ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn latest_metrics_of(db: &PgPool, run_ids: &[Uuid]) -> AppResult<Vec<MetricRow>> {
    let rows = sqlx::query_as!(
        MetricRow,
        "SELECT run_id, key, value, step, timestamp FROM latest_metrics
         WHERE run_id = ANY($1) ORDER BY run_id, key",
        run_ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// A page of one metric's history in step order; the cursor is (step, id).
#[tracing::instrument(skip(db))]
pub async fn history_page(
    db: &PgPool,
    run_id: Uuid,
    key: &str,
    after: Option<(i64, i64)>,
    limit: i64,
) -> AppResult<Vec<PointRow>> {
    let rows = sqlx::query_as!(
        PointRow,
        "SELECT id, step, value, timestamp FROM metric_points
         WHERE run_id = $1 AND key = $2 AND ($3::int8 IS NULL OR (step, id) > ($3, $4))
         ORDER BY step, id LIMIT $5",
        run_id,
        key,
        after.map(|a| a.0),
        after.map(|a| a.1),
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn history_count(db: &PgPool, run_id: Uuid, key: &str) -> AppResult<i64> {
    let n = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM metric_points WHERE run_id = $1 AND key = $2"#,
        run_id,
        key,
    )
    .fetch_one(db)
    .await?;
    Ok(n)
}

/// A chart-sized view of a metric's history: the steps are cut into `buckets` equal
/// ranges and each keeps its first, last, minimum and maximum point. One pass with hash
/// aggregation (arrays compare element-wise, so `min(ARRAY[value, step, …])` is the
/// minimum value together with its step), no sort of the whole history. `bounds` is
/// materialized so it is computed once whatever the planner believes: inlined, on a table
/// without statistics yet (a fresh database under ingest), it was once planned as the
/// inner side of a nested loop and re-aggregated for every point (minutes for 10,000).
#[tracing::instrument(skip(db))]
pub async fn history_sampled(
    db: &PgPool,
    run_id: Uuid,
    key: &str,
    buckets: i64,
) -> AppResult<Vec<PointRow>> {
    let rows = sqlx::query_as!(
        PointRow,
        r#"WITH bounds AS MATERIALIZED (
             SELECT min(step) AS lo, max(step) AS hi FROM metric_points WHERE run_id = $1 AND key = $2),
         per_bucket AS (
             SELECT min(ARRAY[p.step::float8, p.id::float8, p.value, extract(epoch FROM p.timestamp)]) AS first,
                    max(ARRAY[p.step::float8, p.id::float8, p.value, extract(epoch FROM p.timestamp)]) AS last,
                    min(ARRAY[p.value, p.step::float8, p.id::float8, extract(epoch FROM p.timestamp)]) AS low,
                    max(ARRAY[p.value, p.step::float8, p.id::float8, extract(epoch FROM p.timestamp)]) AS high
             FROM metric_points p, bounds b
             WHERE p.run_id = $1 AND p.key = $2
             GROUP BY CASE WHEN b.hi = b.lo THEN 0
                           ELSE floor((p.step - b.lo)::float8 * $3 / (b.hi - b.lo + 1)) END),
         picked AS (
             SELECT first[1] AS step, first[2] AS id, first[3] AS value, first[4] AS ts FROM per_bucket
             UNION SELECT last[1], last[2], last[3], last[4] FROM per_bucket
             UNION SELECT low[2], low[3], low[1], low[4] FROM per_bucket
             UNION SELECT high[2], high[3], high[1], high[4] FROM per_bucket)
         SELECT id::int8 AS "id!", step::int8 AS "step!", value AS "value!",
                to_timestamp(ts) AS "timestamp!"
         FROM picked ORDER BY step, id"#,
        run_id,
        key,
        buckets as f64,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

//! Runs: their lifecycle, params (write-once), tags (mutable) and metrics (full history
//! plus the latest value per key). Every batch write is one statement over arrays.

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use uuid::Uuid;

use crate::db::Db;
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
// serde writes the variants' own names (search keys and cursors hold them); it also reads
// the database's spelling, as a version's source run in `model_reads` has it.
/// Where a run is in its life.
pub enum RunStatus {
    /// Started and not ended.
    #[serde(alias = "RUNNING")]
    Running,
    /// Ended as planned.
    #[serde(alias = "FINISHED")]
    Finished,
    /// Ended by an error.
    #[serde(alias = "FAILED")]
    Failed,
    /// Stopped from outside.
    #[serde(alias = "KILLED")]
    Killed,
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
    db: &Db,
    experiment_id: Uuid,
    project_id: Uuid,
    name: &str,
    params: &[(String, String)],
    tags: &[(String, String)],
    created_by: Uuid,
) -> AppResult<RunRow> {
    let mut conn = db.acquire().await?;
    let mut tx = conn.begin().await?;
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
    db: &Db,
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
        status.map(crate::db::enum_name),
    )
    .fetch_optional(db)
    .await?;
    Ok(row)
}

#[tracing::instrument(skip(db))]
pub async fn delete(db: &Db, id: Uuid) -> AppResult<bool> {
    let done = sqlx::query!("DELETE FROM runs WHERE id = $1", id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

#[tracing::instrument(skip(db))]
pub async fn find_many(db: &Db, ids: &[Uuid]) -> AppResult<Vec<RunRow>> {
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
    db: &Db,
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
                 AND (created_at, id) > (coalesce($2::timestamptz, '-infinity'), coalesce($3::uuid, '00000000-0000-0000-0000-000000000000'))
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
pub async fn log_params(db: &Db, run_id: Uuid, params: &[(String, String)]) -> AppResult<()> {
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
pub async fn set_tags(db: &Db, run_id: Uuid, tags: &[(String, String)]) -> AppResult<()> {
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
/// step, then timestamp) — one statement, so all or nothing — when the run exists and
/// (with `writable`) lies in one of those projects; returns whether it wrote. `None` means
/// the caller was authorized already.
///
/// The run is locked `FOR KEY SHARE` (the lock its foreign keys take) before anything is
/// written: a run deleted meanwhile is then not found, so the caller hears NOT_FOUND, where
/// the keys' own checks would fail the statement as an internal error.
#[tracing::instrument(skip(db, points), fields(points = points.len()))]
pub async fn log_metrics(
    db: &Db,
    run_id: Uuid,
    writable: Option<&[Uuid]>,
    points: &[NewPoint],
) -> AppResult<bool> {
    let keys: Vec<&str> = points.iter().map(|p| p.key.as_str()).collect();
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    let steps: Vec<i64> = points.iter().map(|p| p.step).collect();
    let stamps: Vec<DateTime<Utc>> = points.iter().map(|p| p.timestamp).collect();
    let found = sqlx::query_scalar!(
        r#"WITH target AS (
             SELECT id FROM runs WHERE id = $1 AND ($6::uuid[] IS NULL OR project_id = ANY($6))
             FOR KEY SHARE),
         input AS (
             SELECT * FROM unnest($2::text[], $3::float8[], $4::int8[], $5::timestamptz[])
                 WITH ORDINALITY AS t(key, value, step, ts, n)),
         history AS (
             INSERT INTO metric_points (run_id, key, value, step, timestamp)
             SELECT target.id, key, value, step, ts FROM target, input ORDER BY n),
         latest AS (
             INSERT INTO latest_metrics AS l (run_id, key, value, step, timestamp)
             SELECT DISTINCT ON (key) target.id, key, value, step, ts FROM target, input
             ORDER BY key, step DESC, ts DESC, n DESC
             ON CONFLICT (run_id, key) DO UPDATE
                 SET value = EXCLUDED.value, step = EXCLUDED.step, timestamp = EXCLUDED.timestamp
                 WHERE (EXCLUDED.step, EXCLUDED.timestamp) >= (l.step, l.timestamp))
         SELECT EXISTS (SELECT 1 FROM target) AS "found!""#,
        run_id,
        &keys as &[&str],
        &values,
        &steps,
        &stamps,
        writable,
    )
    .fetch_one(db)
    .await?;
    Ok(found)
}

#[tracing::instrument(skip(db))]
pub async fn params_of(db: &Db, run_ids: &[Uuid]) -> AppResult<Vec<KeyValueRow>> {
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
pub async fn tags_of(db: &Db, run_ids: &[Uuid]) -> AppResult<Vec<KeyValueRow>> {
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
pub async fn latest_metrics_of(db: &Db, run_ids: &[Uuid]) -> AppResult<Vec<MetricRow>> {
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
    db: &Db,
    run_id: Uuid,
    key: &str,
    after: Option<(i64, i64)>,
    limit: i64,
) -> AppResult<Vec<PointRow>> {
    let rows = sqlx::query_as!(
        PointRow,
        "SELECT id, step, value, timestamp FROM metric_points
         WHERE run_id = $1 AND key = $2
           AND (step, id) > (coalesce($3::int8, -9223372036854775808), coalesce($4::int8, 0))
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
pub async fn history_count(db: &Db, run_id: Uuid, key: &str) -> AppResult<i64> {
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
/// ranges and each keeps its first, last, lowest and highest point. The run's points are
/// streamed in step order straight off the index `metric_points_history` (the step range
/// comes with them, from the index's far end) and bucketed here as they arrive, in memory
/// proportional to the buckets. Aggregating in PostgreSQL instead (arrays compared
/// element-wise per bucket) cost 2.6 µs a point, ten times the scan itself.
#[tracing::instrument(skip(db))]
pub async fn history_sampled(
    db: &Db,
    run_id: Uuid,
    key: &str,
    buckets: i64,
) -> AppResult<Vec<PointRow>> {
    // Streamed on a connection of its own: a history may be millions of points, and only
    // the sample is kept (the pool's own statements gather their rows first).
    let mut conn = db.acquire().await?;
    let mut rows = sqlx::query!(
        r#"SELECT id, step, value, timestamp,
                  (SELECT max(step) FROM metric_points WHERE run_id = $1 AND key = $2) AS "last_step!"
         FROM metric_points WHERE run_id = $1 AND key = $2
         ORDER BY step, id"#,
        run_id,
        key,
    )
    .fetch(&mut *conn);
    let mut sampler: Option<Sampler> = None;
    while let Some(row) = rows.try_next().await? {
        let point = PointRow {
            id: row.id,
            step: row.step,
            value: row.value,
            timestamp: row.timestamp,
        };
        sampler
            .get_or_insert_with(|| Sampler::new(row.step, row.last_step, buckets))
            .push(point);
    }
    Ok(sampler.map(Sampler::finish).unwrap_or_default())
}

/// Buckets a history arriving in (step, id) order: per bucket of equal step range, its
/// first and last point, its lowest (the earliest of equals) and its highest (the latest
/// of equals), each point once, in step order.
struct Sampler {
    first_step: i64,
    span: i64,
    buckets: i64,
    open: Option<(i64, [PointRow; 4])>,
    kept: Vec<PointRow>,
}

impl Sampler {
    fn new(first_step: i64, last_step: i64, buckets: i64) -> Self {
        Sampler {
            first_step,
            span: last_step - first_step + 1,
            buckets: buckets.max(1),
            open: None,
            kept: Vec::with_capacity(4 * buckets.max(1) as usize),
        }
    }

    fn bucket(&self, step: i64) -> i64 {
        if self.span <= 1 {
            return 0;
        }
        ((step - self.first_step) as f64 * self.buckets as f64 / self.span as f64).floor() as i64
    }

    fn push(&mut self, p: PointRow) {
        let bucket = self.bucket(p.step);
        match &mut self.open {
            Some((open, [_, last, low, high])) if *open == bucket => {
                *last = p.clone();
                if p.value < low.value {
                    *low = p.clone();
                }
                if p.value >= high.value {
                    *high = p;
                }
            }
            _ => {
                self.close();
                self.open = Some((bucket, [p.clone(), p.clone(), p.clone(), p]));
            }
        }
    }

    fn close(&mut self) {
        if let Some((_, mut points)) = self.open.take() {
            points.sort_by_key(|p| (p.step, p.id));
            let mut last_id = None;
            for p in points {
                if last_id != Some(p.id) {
                    last_id = Some(p.id);
                    self.kept.push(p);
                }
            }
        }
    }

    fn finish(mut self) -> Vec<PointRow> {
        self.close();
        self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(values: &[f64]) -> Vec<PointRow> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| PointRow {
                id: i as i64 + 1,
                step: i as i64,
                value,
                timestamp: DateTime::<Utc>::UNIX_EPOCH,
            })
            .collect()
    }

    fn sample(points: Vec<PointRow>, buckets: i64) -> Vec<PointRow> {
        let last = points.last().map_or(0, |p| p.step);
        let mut s = Sampler::new(points[0].step, last, buckets);
        points.into_iter().for_each(|p| s.push(p));
        s.finish()
    }

    #[test]
    fn each_bucket_keeps_its_ends_and_extremes_once_in_step_order() {
        let mut values = vec![1.0; 1000];
        values[500] = 99.0;
        values[777] = -5.0;
        let kept = sample(history(&values), 10);
        let steps: Vec<i64> = kept.iter().map(|p| p.step).collect();
        assert_eq!(steps.first(), Some(&0));
        assert_eq!(steps.last(), Some(&999));
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
        assert!(steps.contains(&500) && steps.contains(&777));
        assert!(kept.len() <= 40, "{}", kept.len());
        // A flat bucket keeps its first and last point; its lowest is the earliest of the
        // equal values and its highest the latest, so nothing else is added.
        assert!(steps.contains(&99) && steps.contains(&100) && !steps.contains(&150));
    }

    #[test]
    fn one_step_or_one_point_is_one_bucket() {
        assert_eq!(sample(history(&[3.0]), 250).len(), 1);
        let same_step: Vec<PointRow> = (0..5)
            .map(|i| PointRow {
                id: i + 1,
                step: 7,
                value: i as f64,
                timestamp: DateTime::<Utc>::UNIX_EPOCH,
            })
            .collect();
        let kept = sample(same_step, 250);
        let ids: Vec<i64> = kept.iter().map(|p| p.id).collect();
        assert_eq!(ids, [1, 5], "first = lowest, last = highest");
    }
}

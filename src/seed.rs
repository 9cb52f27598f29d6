//! Realistic volume for demos, benchmarks and the N+1 tests: projects owned by one user,
//! each with experiments, runs (params, tags, a status mix) and metric histories. Written
//! with set-based SQL (`generate_series`), in one statement.

use uuid::Uuid;

use crate::db::Db;

/// How much to create.
#[derive(Debug, Clone, Copy)]
pub struct SeedSize {
    pub projects: i32,
    pub experiments_per_project: i32,
    pub runs_per_experiment: i32,
    /// Points per metric per run (two metrics: `loss` and `accuracy`).
    pub points_per_metric: i32,
}

/// What was created.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    pub projects: i64,
    pub runs: i64,
    pub metric_points: i64,
}

/// Creates the data, owned by `owner`; project names start with `prefix`. One statement:
/// each step reads the rows the step before returned.
pub async fn seed(db: &Db, owner: Uuid, prefix: &str, size: SeedSize) -> anyhow::Result<Seeded> {
    let mut conn = db.acquire().await?;
    let mut tx = conn.begin().await?;
    let made = sqlx::query!(
        r#"WITH p AS (
             INSERT INTO projects (id, name, description, created_by)
             SELECT gen_random_uuid(), $2 || '-' || lpad(i::text, 4, '0'), 'Seeded for demos and benchmarks', $1
             FROM generate_series(1, $3) AS i
             RETURNING id),
         m AS (INSERT INTO project_members (project_id, user_id, role) SELECT id, $1, 'OWNER' FROM p),
         e AS (
             INSERT INTO experiments (id, project_id, name, description, created_by)
             SELECT gen_random_uuid(), p.id, 'experiment-' || j, 'Hyper-parameter sweep ' || j, $1
             FROM p, generate_series(1, $4) AS j
             RETURNING id, project_id),
         r AS (
             INSERT INTO runs (id, experiment_id, project_id, name, status, started_at, ended_at, created_by)
             SELECT gen_random_uuid(), e.id, e.project_id, 'run-' || k,
                    (ARRAY['FINISHED', 'FINISHED', 'RUNNING', 'FAILED', 'KILLED'])[1 + k % 5],
                    now() - make_interval(hours => k),
                    CASE WHEN k % 5 = 2 THEN NULL ELSE now() - make_interval(hours => k) + interval '40 minutes' END,
                    $1
             FROM e, generate_series(1, $5) AS k
             RETURNING id),
         seeded AS (SELECT id, row_number() OVER (ORDER BY id)::int AS i FROM r),
         params AS (
             INSERT INTO run_params (run_id, key, value)
             SELECT id, key, value FROM seeded,
             LATERAL (VALUES ('learning_rate', (ARRAY['0.1', '0.01', '0.001', '0.0001'])[1 + i % 4]),
                             ('batch_size', (ARRAY['32', '64', '128', '256'])[1 + (i / 4) % 4]),
                             ('optimizer', (ARRAY['adam', 'sgd', 'adamw'])[1 + i % 3])) AS kv(key, value)),
         tags AS (
             INSERT INTO run_tags (run_id, key, value)
             SELECT id, key, value FROM seeded,
             LATERAL (VALUES ('team', (ARRAY['vision', 'nlp', 'speech'])[1 + i % 3]),
                             ('git_commit', substr(md5(i::text), 1, 10))) AS kv(key, value)),
         points AS (
             INSERT INTO metric_points (run_id, key, step, value, timestamp)
             SELECT r.id, m.key, s,
                    CASE m.key WHEN 'loss' THEN exp(-s / 200.0) * (1 + (r.i % 7) / 10.0) + random() / 50
                               ELSE 1 - exp(-s / 200.0) * (1 - (r.i % 5) / 10.0) - random() / 50 END,
                    now() - interval '1 day' + make_interval(secs => s)
             FROM seeded r, (VALUES ('loss'), ('accuracy')) AS m(key), generate_series(0, $6 - 1) AS s
             RETURNING run_id, key, step, value, timestamp),
         latest AS (
             INSERT INTO latest_metrics (run_id, key, step, value, timestamp)
             SELECT DISTINCT ON (run_id, key) run_id, key, step, value, timestamp
             FROM points ORDER BY run_id, key, step DESC)
         SELECT (SELECT count(*) FROM seeded) AS "runs!", (SELECT count(*) FROM points) AS "points!""#,
        owner,
        prefix,
        size.projects,
        size.experiments_per_project,
        size.runs_per_experiment,
        size.points_per_metric,
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Seeded {
        projects: i64::from(size.projects),
        runs: made.runs,
        metric_points: made.points,
    })
}

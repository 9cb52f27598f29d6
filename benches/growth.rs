//! Cost as data grows: metric ingest and a run's history reads measured with 1 million
//! and then 10 million points in `metric_points`, in one run, against a live server:
//!
//!   scripts/bench.sh growth        # release build, fresh database, both sizes (~10 min)
//!
//! Each stage seeds points directly (`maestro::seed`) up to its size, analyzes the table
//! (as autovacuum would soon after), then measures over HTTP: ingest by 16 clients logging
//! 100 points per call for 15 s, and 200 reads each of `metricHistorySampled` (1,000 of a
//! 10,000-point history) and `metricHistory` (a page: the first 100 points). It prints a table
//! with the 10M/1M ratio of each figure (the aim: within 20%), then the query plans of the
//! three statements at 10M, with buffers, as PostgreSQL's `auto_explain` reports them for
//! the same library functions the server calls.
//! `GROWTH_POINTS=1000000,10000000` sets the stages.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;

use common::{Api, unique_email};
use maestro::db::Db;
use maestro::db::runs::{self, NewPoint};
use maestro::seed::{SeedSize, seed};
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

const CLIENTS: usize = 16;
const INGEST_FOR: Duration = Duration::from_secs(15);
const READS: usize = 200;

struct Stage {
    points: i64,
    ingest_per_sec: f64,
    sampled_ms: (f64, f64),
    page_ms: (f64, f64),
}

#[tokio::main]
async fn main() {
    let base = std::env::var("MAESTRO_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    let database_url =
        std::env::var("DATABASE_URL").expect("DATABASE_URL of the server's database");
    let stages: Vec<i64> = std::env::var("GROWTH_POINTS")
        .unwrap_or_else(|_| "1000000,10000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("GROWTH_POINTS: numbers"))
        .collect();
    let pool = maestro::db::connect(&database_url, 4, Duration::from_secs(30), None)
        .await
        .expect("the database");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS * 2)
        .build()
        .unwrap();
    let (api, owner) =
        Api::register(&base, client, &unique_email("growth"), "growth-password").await;
    let api = Arc::new(api);

    let project = api
        .gql(
            "mutation { createProject(input: {name: \"growth\"}) { id } }",
            json!({}),
        )
        .await["createProject"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let experiment = api
        .gql(
            "mutation($p: ID!) { createExperiment(input: {projectId: $p, name: \"probe\"}) { id } }",
            json!({ "p": project }),
        )
        .await["createExperiment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let create_run = |name: String| {
        let api = api.clone();
        let experiment = experiment.clone();
        async move {
            api.gql(
                "mutation($i: CreateRunInput!) { createRun(input: $i) { id } }",
                json!({ "i": { "experimentId": experiment, "name": name } }),
            )
            .await["createRun"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    // The probe: one run with a 10,000-point history, read at every stage.
    let probe = create_run("probe".into()).await;
    for chunk in 0..10 {
        let points: Vec<Value> = (0..1000)
            .map(
                |i| json!({ "key": "loss", "value": f64::from(i % 113), "step": chunk * 1000 + i }),
            )
            .collect();
        api.gql(
            "mutation($r: ID!, $m: [MetricInput!]!) { logMetrics(runId: $r, metrics: $m) }",
            json!({ "r": probe, "m": points }),
        )
        .await;
    }

    let mut results = Vec::new();
    for (n, &target) in stages.iter().enumerate() {
        let have = count_points(&pool).await;
        let started = Instant::now();
        fill(&pool, owner, target - have, n).await;
        sqlx::query("ANALYZE metric_points, latest_metrics, runs")
            .execute(&pool)
            .await
            .unwrap();
        let points = count_points(&pool).await;
        eprintln!(
            "stage {points} points: seeded and analyzed in {:.1?}",
            started.elapsed()
        );
        let mut ingest_runs = Vec::new();
        for c in 0..CLIENTS {
            ingest_runs.push(create_run(format!("ingest-{n}-{c}")).await);
        }
        results.push(Stage {
            points,
            ingest_per_sec: ingest(&api, ingest_runs).await,
            sampled_ms: reads(
                &api,
                "query($r: ID!) { run(id: $r) { metricHistorySampled(key: \"loss\", maxPoints: 1000) { step value } } }",
                &probe,
            )
            .await,
            page_ms: reads(
                &api,
                "query($r: ID!) { run(id: $r) { metricHistory(key: \"loss\", first: 100) { edges { node { step value } } } } }",
                &probe,
            )
            .await,
        });
    }

    println!(
        "| points in the table | ingest, {CLIENTS} clients × 100 points | metricHistorySampled p50 / p95 | metricHistory (100) p50 / p95 |"
    );
    println!("|---|---|---|---|");
    for s in &results {
        println!(
            "| {} | {:.0} points/s | {:.1} / {:.1} ms | {:.1} / {:.1} ms |",
            s.points, s.ingest_per_sec, s.sampled_ms.0, s.sampled_ms.1, s.page_ms.0, s.page_ms.1
        );
    }
    if let [first, .., last] = results.as_slice() {
        let change = |a: f64, b: f64| format!("{:+.0}%", (b / a - 1.0) * 100.0);
        println!(
            "| last vs first | {} | {} / {} | {} / {} |",
            change(first.ingest_per_sec, last.ingest_per_sec),
            change(first.sampled_ms.0, last.sampled_ms.0),
            change(first.sampled_ms.1, last.sampled_ms.1),
            change(first.page_ms.0, last.page_ms.0),
            change(first.page_ms.1, last.page_ms.1),
        );
    }
    plans(&database_url, probe.parse().unwrap()).await;
}

async fn count_points(pool: &Db) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM metric_points")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Seeds about `missing` points: runs of 2 × 1,000 points, 500,000 points per statement.
async fn fill(pool: &Db, owner: Uuid, missing: i64, stage: usize) {
    let per_run = 2_000;
    let mut left = missing;
    let mut batch = 0;
    while left >= per_run {
        let runs = (left / per_run).min(250) as i32;
        let size = SeedSize {
            projects: 1,
            experiments_per_project: 1,
            runs_per_experiment: runs,
            points_per_metric: 1_000,
        };
        seed(pool, owner, &format!("growth-{stage}-{batch}"), size)
            .await
            .expect("seeded");
        left -= i64::from(runs) * per_run;
        batch += 1;
    }
}

/// Points per second logged by `CLIENTS` clients, each into its own run, for INGEST_FOR.
async fn ingest(api: &Arc<Api>, runs: Vec<String>) -> f64 {
    let logged = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = runs
        .into_iter()
        .map(|run| {
            let api = api.clone();
            let logged = logged.clone();
            tokio::spawn(async move {
                let mut step = 0i64;
                while started.elapsed() < INGEST_FOR {
                    let points: Vec<Value> = (0..100)
                        .map(|i| json!({ "key": "loss", "value": 1.0 / (step + i + 1) as f64, "step": step + i }))
                        .collect();
                    api.gql(
                        "mutation($r: ID!, $m: [MetricInput!]!) { logMetrics(runId: $r, metrics: $m) }",
                        json!({ "r": run, "m": points }),
                    )
                    .await;
                    step += 100;
                    logged.fetch_add(100, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    logged.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// p50 and p95 in milliseconds of READS sequential calls of `query` for `run`.
async fn reads(api: &Api, query: &str, run: &str) -> (f64, f64) {
    let mut times = Vec::with_capacity(READS);
    for _ in 0..READS {
        let started = Instant::now();
        api.gql(query, json!({ "r": run })).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    (times[READS / 2], times[READS * 95 / 100])
}

/// Runs the server's own statements (the library functions it calls) on a connection
/// with `auto_explain` sending each plan back as a notice, which sqlx logs.
async fn plans(database_url: &str, probe: Uuid) {
    tracing_subscriber::fmt()
        .with_env_filter("sqlx::postgres::notice=info")
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_level(false)
        .init();
    let options = PgConnectOptions::from_str(database_url)
        .expect("DATABASE_URL")
        .options([
            ("session_preload_libraries", "auto_explain"),
            ("auto_explain.log_min_duration", "0"),
            ("auto_explain.log_analyze", "on"),
            ("auto_explain.log_buffers", "on"),
            ("auto_explain.log_timing", "on"),
            ("auto_explain.log_level", "notice"),
        ]);
    let explained = Db::connect(options, 1, Duration::from_secs(30))
        .await
        .expect("the database");
    println!("\nPlans at the last stage (auto_explain, ANALYZE and BUFFERS):\n");
    println!("-- metricHistorySampled (history_sampled, 250 buckets):");
    runs::history_sampled(&explained, probe, "loss", 250)
        .await
        .unwrap();
    println!("-- metricHistory (history_page, a page of 100 and one more):");
    runs::history_page(&explained, probe, "loss", None, 101)
        .await
        .unwrap();
    println!("-- logMetrics (log_metrics, 100 points):");
    let points: Vec<NewPoint> = (0..100)
        .map(|i| NewPoint {
            key: "loss".into(),
            value: 0.5,
            step: 20_000 + i,
            timestamp: chrono::Utc::now(),
        })
        .collect();
    runs::log_metrics(&explained, probe, None, &points)
        .await
        .unwrap();
}

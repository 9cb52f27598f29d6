//! Benchmarks against a live Maestro (release build recommended):
//!
//!   scripts/bench.sh            # builds, starts a server and runs this
//!   MAESTRO_URL=http://127.0.0.1:8000 DATABASE_URL=postgres://… cargo bench --bench api
//!
//! Measures metric ingest (16 clients, 1000 points per call), the nested read of
//! 20 projects × 20 experiments × 20 runs (createdBy, params, latest metrics), and a runs
//! search (100 of 1000 runs, ordered by a metric, with params and metrics). `DATABASE_URL`
//! must be the server's database: the nested read's 8,000 runs are seeded directly.

use std::time::{Duration, Instant};

mod common;

use common::{Api, unique_email};
use maestro::seed::{SeedSize, seed};
use serde_json::{Value, json};

const CLIENTS: usize = 16;

/// Runs `calls` operations spread over `CLIENTS` concurrent clients; returns the wall time.
async fn concurrently<F, Fut>(calls: usize, op: F) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let per_client = calls / CLIENTS;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let op = op.clone();
            tokio::spawn(async move {
                for i in 0..per_client {
                    op(c * per_client + i).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let base = std::env::var("MAESTRO_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    let database_url =
        std::env::var("DATABASE_URL").expect("DATABASE_URL of the server's database");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS * 2)
        .build()
        .unwrap();
    let (api, user_id) =
        Api::register(&base, client, &unique_email("bench"), "benchmark-password").await;
    let api = std::sync::Arc::new(api);

    // Fixtures over the API: one experiment with 1000 runs, each with params and metrics.
    let project = api
        .gql(
            "mutation { createProject(input: {name: \"bench\"}) { id } }",
            json!({}),
        )
        .await["createProject"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let experiment = api
        .gql("mutation($p: ID!) { createExperiment(input: {projectId: $p, name: \"sweep\"}) { id } }", json!({ "p": project }))
        .await["createExperiment"]["id"].as_str().unwrap().to_string();
    let setup_started = Instant::now();
    let runs: Vec<String> = {
        let mut ids = Vec::new();
        for i in 0..1000 {
            let data = api
                .gql(
                    "mutation($i: CreateRunInput!) { createRun(input: $i) { id } }",
                    json!({ "i": { "experimentId": experiment, "name": format!("run-{i}"),
                        "params": [{"key": "lr", "value": format!("{}", (i % 10) as f64 / 100.0)}, {"key": "batch", "value": "64"}] } }),
                )
                .await;
            let id = data["createRun"]["id"].as_str().unwrap().to_string();
            api.gql(
                "mutation($r: ID!, $m: [MetricInput!]!) { logMetrics(runId: $r, metrics: $m) }",
                json!({ "r": id, "m": [{"key": "loss", "value": ((i * 7919) % 1000) as f64 / 1000.0}, {"key": "acc", "value": 0.5}] }),
            )
            .await;
            ids.push(id);
        }
        ids
    };
    eprintln!("setup: 1000 runs in {:.1?}", setup_started.elapsed());

    // 1. Metric ingest: 16 clients, 1000 points per call.
    let calls = 320;
    let ingest = {
        let api = api.clone();
        let runs = std::sync::Arc::new(runs.clone());
        concurrently(calls, move |n| {
            let api = api.clone();
            let runs = runs.clone();
            async move {
                let points: Vec<Value> = (0..1000).map(|s| json!({ "key": "train/loss", "value": 1.0 / (s + 1) as f64, "step": n * 1000 + s })).collect();
                api.gql("mutation($r: ID!, $m: [MetricInput!]!) { logMetrics(runId: $r, metrics: $m) }", json!({ "r": runs[n % runs.len()], "m": points }))
                    .await;
            }
        })
        .await
    };
    let points_per_sec = (calls * 1000) as f64 / ingest.as_secs_f64();

    // 2. Runs search: 100 of 1000 runs ordered by a metric, with params and metrics.
    let search_query = "query($e: ID!) { runs(experimentIds: [$e], orderBy: {metric: \"loss\"}, first: 100) {
        edges { node { id name status params { key value } latestMetrics { key value step } } } } }";
    let searches = 320;
    let search = {
        let api = api.clone();
        let experiment = experiment.clone();
        concurrently(searches, move |_| {
            let api = api.clone();
            let experiment = experiment.clone();
            async move {
                let data = api.gql(search_query, json!({ "e": experiment })).await;
                assert_eq!(data["runs"]["edges"].as_array().unwrap().len(), 100);
            }
        })
        .await
    };
    let searches_per_sec = searches as f64 / search.as_secs_f64();

    // 3. The nested read 20 × 20 × 20 with createdBy, params and latest metrics.
    let pool = maestro::db::connect(&database_url, 2, Duration::from_secs(30), None)
        .await
        .expect("the server's database");
    let size = SeedSize {
        projects: 20,
        experiments_per_project: 20,
        runs_per_experiment: 20,
        points_per_metric: 5,
    };
    seed(&pool, user_id, "bench-nested", size)
        .await
        .expect("seeded");
    let nested = "{ projects(first: 20) { edges { node { name experiments(first: 20) { edges { node { name
        runs(first: 20) { edges { node { name createdBy { email } params { key value } latestMetrics { key value } } } } } } } } } } }";
    // One client at a time: each read asks for 8,000 runs with their relations, and 16 of
    // them at once exceed the database pool on two cores (see README).
    let reads = 8;
    let started = Instant::now();
    for _ in 0..reads {
        let data = api.gql(nested, json!({})).await;
        assert_eq!(data["projects"]["edges"].as_array().unwrap().len(), 20);
    }
    let nested_ms = started.elapsed().as_secs_f64() * 1000.0 / reads as f64;

    println!("| benchmark | result |");
    println!("|---|---|");
    println!(
        "| metric ingest, {CLIENTS} clients × 1000 points per call | {points_per_sec:.0} points/s |"
    );
    println!(
        "| runs search, 100 of 1000 runs by a metric, with params and metrics, {CLIENTS} clients | {searches_per_sec:.1} searches/s |"
    );
    println!(
        "| nested read 20 × 20 × 20 (8,000 runs with createdBy, params, latest metrics), 1 client | {nested_ms:.0} ms per read |"
    );
}

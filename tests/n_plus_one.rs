//! No N+1: a nested read costs the same few SQL statements whatever the page sizes. The
//! server counts the statements of each request (MAESTRO_COUNT_SQL, on in tests) and
//! reports them in `extensions.sqlStatements`.

mod common;

use common::TestApp;
use maestro::seed::{SeedSize, seed};
use serde_json::{Value, json};
use uuid::Uuid;

const NESTED: &str = "query($n: Int!) {
  projects(first: $n) { totalCount edges { node { id name myRole createdBy { email }
    members { role user { email } }
    experiments(first: $n) { totalCount edges { node { name createdBy { email }
      runs(first: $n) { totalCount edges { node { name status createdBy { email }
        params { key value } tags { key value } latestMetrics { key value step } } } } } } }
    models(first: $n) { edges { node { name latestVersion { version } } } } } } } }";

/// Seeds an n×n×n world for a new user and returns the nested read's statement count.
async fn statements_for(app: &TestApp, n: i32) -> (u64, Value) {
    let (_, session) = app.user(&format!("reader{n}")).await;
    let owner: Uuid = session.user_id.parse().unwrap();
    let size = SeedSize {
        projects: n,
        experiments_per_project: n,
        runs_per_experiment: n,
        points_per_metric: 2,
    };
    seed(&app.state.db, owner, &format!("n{n}"), size)
        .await
        .unwrap();
    let (status, body) = app
        .gql_raw(Some(&session.access), NESTED, json!({ "n": n }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let count = body["extensions"]["sqlStatements"]
        .as_u64()
        .expect("the server reports its statements");
    (count, body["data"].clone())
}

#[tokio::test]
async fn a_nested_read_costs_the_same_statements_at_2x2x2_and_20x20x20() {
    let app = TestApp::spawn().await;
    let (small, small_data) = statements_for(&app, 2).await;
    let (large, large_data) = statements_for(&app, 20).await;

    // The reads returned what was asked for.
    let runs = |d: &Value| -> usize {
        d["projects"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["node"]["experiments"]["edges"].as_array().unwrap())
            .map(|e| e["node"]["runs"]["edges"].as_array().unwrap().len())
            .sum()
    };
    assert_eq!(runs(&small_data), 8);
    assert_eq!(runs(&large_data), 8000);
    let first_run = &large_data["projects"]["edges"][0]["node"]["experiments"]["edges"][0]["node"]
        ["runs"]["edges"][0]["node"];
    assert_eq!(first_run["params"].as_array().unwrap().len(), 3);
    assert_eq!(first_run["latestMetrics"].as_array().unwrap().len(), 2);

    println!("nested read: {small} statements at 2x2x2, {large} at 20x20x20");
    assert_eq!(
        small, large,
        "statement count must not grow with page sizes"
    );
    assert!(small <= 20, "a small, fixed number of statements: {small}");
}

#[tokio::test]
async fn a_query_ten_times_the_complexity_limit_is_refused() {
    let app = TestApp::spawn().await;
    let (_, session) = app.user("greedy").await;
    let (_, body) = app
        .gql_raw(Some(&session.access), NESTED, json!({ "n": 100 }))
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("complex"), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

//! What every request costs stays what it is: costs removed for speed cannot come back
//! unnoticed.

mod common;

use common::{TestApp, unique_email};
use serde_json::json;

/// A figure of the server's `/metrics`.
async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app.metrics_text().await;
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in {text}"))
}

#[tokio::test]
async fn a_signed_in_read_makes_no_cache_round_trip() {
    // Revocation is read from PostgreSQL with the user; nothing a request needs to know
    // about its caller is asked of Redis.
    let app = TestApp::spawn().await;
    let s = app.register(&unique_email("costs")).await;
    let before = metric(&app, "maestro_cache_calls_total").await;
    for _ in 0..5 {
        app.gql(Some(&s.access), "{ me { id } }", json!({})).await;
    }
    assert_eq!(metric(&app, "maestro_cache_calls_total").await, before);
}

#[tokio::test]
async fn a_nested_read_costs_one_statement_per_level() {
    let app = TestApp::spawn().await;
    // The first account is an ADMIN, who needs no role lookup; a member does.
    app.register(&unique_email("admin")).await;
    let s = app.register(&unique_email("levels")).await;
    for p in 0..3 {
        let project = app.create_project(&s.access, &format!("p{p}")).await;
        for e in 0..2 {
            let experiment = app
                .create_experiment(&s.access, &project, &format!("e{e}"))
                .await;
            app.create_run(&s.access, &experiment, "r").await;
        }
    }
    let (status, body) = app
        .gql_raw(
            Some(&s.access),
            "{ projects(first: 100) { edges { node { experiments(first: 10) { edges { node {
                runs(first: 10) { edges { node { id name } } } } } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Projects, their experiments, their runs (the default order's plain statement), and
    // the caller's roles in the listed projects: four, whatever the counts.
    assert_eq!(body["extensions"]["sqlStatements"], 4, "{body}");
}

#[tokio::test]
async fn a_search_over_many_experiments_checks_them_in_one_batch() {
    let app = TestApp::spawn().await;
    app.register(&unique_email("admin")).await;
    let s = app.register(&unique_email("searcher")).await;
    let mut experiments = Vec::new();
    for p in 0..4 {
        let project = app.create_project(&s.access, &format!("p{p}")).await;
        let experiment = app.create_experiment(&s.access, &project, "e").await;
        app.create_run(&s.access, &experiment, "r").await;
        experiments.push(experiment);
    }
    let (status, body) = app
        .gql_raw(
            Some(&s.access),
            "query($e: [ID!]!) { runs(experimentIds: $e, first: 10) { edges { node { name } } } }",
            json!({ "e": experiments }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["runs"]["edges"].as_array().unwrap().len(), 4);
    // The experiments, the caller's roles in their projects, the search: three, however
    // many experiments are named.
    assert_eq!(body["extensions"]["sqlStatements"], 3, "{body}");
}

//! Runs: lifecycle, write-once params, tags, metrics and their history.

mod common;

use common::{TestApp, error_code};
use serde_json::{Value, json};

async fn setup(app: &TestApp) -> (String, String, String) {
    let (_, s) = app.user("ds").await;
    let project = app.create_project(&s.access, "p").await;
    let experiment = app.create_experiment(&s.access, &project, "e").await;
    let run = app.create_run(&s.access, &experiment, "r").await;
    (s.access, experiment, run)
}

const RUN: &str = "query($id: ID!) { run(id: $id) { name status startedAt endedAt params { key value } tags { key value } latestMetrics { key value step } } }";

#[tokio::test]
async fn a_run_moves_from_running_to_a_terminal_state_with_an_end_time() {
    let app = TestApp::spawn().await;
    let (t, _, run) = setup(&app).await;
    let data = app.gql(Some(&t), RUN, json!({ "id": run })).await;
    assert_eq!(data["run"]["status"], "RUNNING");
    assert!(data["run"]["endedAt"].is_null());
    let done = app
        .gql(
            Some(&t),
            "mutation($id: ID!) { updateRun(id: $id, input: {status: FAILED}) { status endedAt } }",
            json!({ "id": run }),
        )
        .await;
    assert_eq!(done["updateRun"]["status"], "FAILED");
    assert!(done["updateRun"]["endedAt"].is_string());
}

#[tokio::test]
async fn a_run_gets_a_default_name_and_its_first_params_and_tags() {
    let app = TestApp::spawn().await;
    let (t, experiment, _) = setup(&app).await;
    let data = app
        .gql(
            Some(&t),
            "mutation($i: CreateRunInput!) { createRun(input: $i) { name params { key value } tags { key value } } }",
            json!({ "i": { "experimentId": experiment, "params": [{"key": "lr", "value": "0.1"}], "tags": [{"key": "git", "value": "abc"}] } }),
        )
        .await;
    assert!(
        data["createRun"]["name"]
            .as_str()
            .unwrap()
            .starts_with("run-")
    );
    assert_eq!(
        data["createRun"]["params"],
        json!([{ "key": "lr", "value": "0.1" }])
    );
    assert_eq!(
        data["createRun"]["tags"],
        json!([{ "key": "git", "value": "abc" }])
    );
}

#[tokio::test]
async fn params_are_write_once_and_a_conflicting_call_writes_nothing() {
    let app = TestApp::spawn().await;
    let (t, _, run) = setup(&app).await;
    let log = "mutation($id: ID!, $p: [ParamInput!]!) { logParams(runId: $id, params: $p) { params { key value } } }";
    app.gql(
        Some(&t),
        log,
        json!({ "id": run, "p": [{"key": "lr", "value": "0.1"}] }),
    )
    .await;
    // The same value again is fine (retries are idempotent).
    app.gql(
        Some(&t),
        log,
        json!({ "id": run, "p": [{"key": "lr", "value": "0.1"}] }),
    )
    .await;
    let (_, body) = app
        .gql_raw(Some(&t), log, json!({ "id": run, "p": [{"key": "batch", "value": "32"}, {"key": "lr", "value": "0.2"}] }))
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("CONFLICT"), "{body}");
    let data = app.gql(Some(&t), RUN, json!({ "id": run })).await;
    assert_eq!(
        data["run"]["params"],
        json!([{ "key": "lr", "value": "0.1" }]),
        "batch was not written"
    );
}

#[tokio::test]
async fn tags_are_overwritten() {
    let app = TestApp::spawn().await;
    let (t, _, run) = setup(&app).await;
    let set = "mutation($id: ID!, $t: [TagInput!]!) { setRunTags(runId: $id, tags: $t) { tags { key value } } }";
    app.gql(
        Some(&t),
        set,
        json!({ "id": run, "t": [{"key": "stage", "value": "a"}] }),
    )
    .await;
    let data = app
        .gql(
            Some(&t),
            set,
            json!({ "id": run, "t": [{"key": "stage", "value": "b"}] }),
        )
        .await;
    assert_eq!(
        data["setRunTags"]["tags"],
        json!([{ "key": "stage", "value": "b" }])
    );
}

#[tokio::test]
async fn the_latest_metric_is_the_greatest_step_whatever_the_order_of_logging() {
    let app = TestApp::spawn().await;
    let (t, _, run) = setup(&app).await;
    app.log_metrics(
        &t,
        &run,
        json!([{"key": "loss", "value": 0.5, "step": 5}, {"key": "loss", "value": 0.9, "step": 1}]),
    )
    .await;
    app.log_metrics(
        &t,
        &run,
        json!([{"key": "loss", "value": 0.7, "step": 3}, {"key": "acc", "value": 0.1, "step": 0}]),
    )
    .await;
    let data = app.gql(Some(&t), RUN, json!({ "id": run })).await;
    assert_eq!(
        data["run"]["latestMetrics"],
        json!([{ "key": "acc", "value": 0.1, "step": 0 }, { "key": "loss", "value": 0.5, "step": 5 }])
    );
}

#[tokio::test]
async fn metric_history_pages_by_step_and_keeps_every_point() {
    let app = TestApp::spawn().await;
    let (t, _, run) = setup(&app).await;
    let points: Vec<Value> = (0..25)
        .map(|i| json!({ "key": "loss", "value": 1.0 / f64::from(i + 1), "step": i }))
        .collect();
    assert_eq!(app.log_metrics(&t, &run, Value::Array(points)).await, 25);
    let page = "query($id: ID!, $after: String) { run(id: $id) { metricHistory(key: \"loss\", first: 10, after: $after) { totalCount edges { node { step } } pageInfo { hasNextPage endCursor } } } }";
    let mut steps = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .gql(Some(&t), page, json!({ "id": run, "after": after }))
            .await;
        let h = &data["run"]["metricHistory"];
        assert_eq!(h["totalCount"], 25);
        steps.extend(
            h["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["step"].as_i64().unwrap()),
        );
        if !h["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = h["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(steps, (0..25).collect::<Vec<i64>>());
}

#[tokio::test]
async fn a_sampled_history_keeps_first_last_and_extremes() {
    let app = TestApp::spawn().await;
    let (t, _, run) = setup(&app).await;
    let mut points: Vec<Value> = (0..1000)
        .map(|i| json!({ "key": "loss", "value": 1.0, "step": i }))
        .collect();
    points[500] = json!({ "key": "loss", "value": 99.0, "step": 500 });
    points[777] = json!({ "key": "loss", "value": -5.0, "step": 777 });
    app.log_metrics(&t, &run, Value::Array(points)).await;
    let data = app
        .gql(Some(&t), "query($id: ID!) { run(id: $id) { metricHistorySampled(key: \"loss\", maxPoints: 40) { step value } } }", json!({ "id": run }))
        .await;
    let sampled = data["run"]["metricHistorySampled"].as_array().unwrap();
    assert!(
        sampled.len() <= 40 && sampled.len() > 10,
        "{}",
        sampled.len()
    );
    let steps: Vec<i64> = sampled
        .iter()
        .map(|p| p["step"].as_i64().unwrap())
        .collect();
    assert_eq!(steps.first(), Some(&0));
    assert_eq!(steps.last(), Some(&999));
    assert!(
        sampled.iter().any(|p| p["value"] == 99.0),
        "the spike survives"
    );
    assert!(
        sampled.iter().any(|p| p["value"] == -5.0),
        "the dip survives"
    );
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "in step order");
}

/// On a table PostgreSQL has no statistics for yet (a fresh database under ingest), the
/// sampled history once got a plan that re-aggregated the run's bounds for every point:
/// minutes for 10,000 points. With a 5 s statement limit, that comes back as an error.
#[tokio::test]
async fn a_sampled_history_is_quick_on_a_table_without_statistics() {
    let app = TestApp::spawn_with(|c| c.db_statement_timeout_secs = 5).await;
    let (t, _, run) = setup(&app).await;
    for chunk in 0..10 {
        let points: Vec<Value> = (0..1000)
            .map(|i| json!({ "key": "loss", "value": f64::from(i % 97), "step": chunk * 1000 + i }))
            .collect();
        app.log_metrics(&t, &run, Value::Array(points)).await;
    }
    let query = "query($id: ID!) { run(id: $id) { metricHistorySampled(key: \"loss\", maxPoints: 1000) { step } } }";
    for _ in 0..6 {
        // Six times: the first five use custom plans, the sixth may be the generic one.
        let data = app.gql(Some(&t), query, json!({ "id": run })).await;
        let sampled = data["run"]["metricHistorySampled"].as_array().unwrap();
        assert!(
            sampled.len() > 250 && sampled.len() <= 1000,
            "{}",
            sampled.len()
        );
    }
}

#[tokio::test]
async fn over_the_limits_the_error_names_the_field_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let (t, _, run) = setup(&app).await;
    let metrics = "mutation($id: ID!, $m: [MetricInput!]!) { logMetrics(runId: $id, metrics: $m) }";
    let params =
        "mutation($id: ID!, $p: [ParamInput!]!) { logParams(runId: $id, params: $p) { id } }";
    let tags = "mutation($id: ID!, $t: [TagInput!]!) { setRunTags(runId: $id, tags: $t) { id } }";
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({ "key": "m", "value": 1.0, "step": i }))
        .collect();
    let many_params: Vec<Value> = (0..101)
        .map(|i| json!({ "key": format!("p{i}"), "value": "v" }))
        .collect();
    let cases = [
        (metrics, json!({ "id": run, "m": too_many }), "metrics"),
        (
            metrics,
            json!({ "id": run, "m": [{"key": "bad;key", "value": 1.0}] }),
            "metrics",
        ),
        (
            metrics,
            json!({ "id": run, "m": [{"key": "k".repeat(251), "value": 1.0}] }),
            "metrics",
        ),
        (params, json!({ "id": run, "p": many_params }), "params"),
        (
            params,
            json!({ "id": run, "p": [{"key": "long", "value": "v".repeat(6001)}] }),
            "params",
        ),
        (
            tags,
            json!({ "id": run, "t": [{"key": "long", "value": "v".repeat(8001)}] }),
            "tags",
        ),
    ];
    for (query, vars, field) in cases {
        let (_, body) = app.gql_raw(Some(&t), query, vars).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let data = app.gql(Some(&t), RUN, json!({ "id": run })).await;
    assert_eq!(data["run"]["latestMetrics"], json!([]));
    assert_eq!(data["run"]["params"], json!([]));
    assert_eq!(data["run"]["tags"], json!([]));
}

#[tokio::test]
async fn exactly_a_thousand_points_and_a_hundred_params_are_accepted() {
    let app = TestApp::spawn().await;
    let (t, _, run) = setup(&app).await;
    let points: Vec<Value> = (0..1000)
        .map(|i| json!({ "key": "m", "value": 1.0, "step": i }))
        .collect();
    assert_eq!(app.log_metrics(&t, &run, Value::Array(points)).await, 1000);
    let params: Vec<Value> = (0..100)
        .map(|i| json!({ "key": format!("p{i}"), "value": "v".repeat(6000) }))
        .collect();
    app.gql(
        Some(&t),
        "mutation($id: ID!, $p: [ParamInput!]!) { logParams(runId: $id, params: $p) { id } }",
        json!({ "id": run, "p": params }),
    )
    .await;
}

#[tokio::test]
async fn non_finite_values_cannot_be_logged() {
    let app = TestApp::spawn().await;
    let (t, _, run) = setup(&app).await;
    // JSON has no NaN or Infinity; a number too large for a double is refused as well.
    let body = format!(
        "{{\"query\": \"mutation {{ logMetrics(runId: \\\"{run}\\\", metrics: [{{key: \\\"m\\\", value: 1e400}}]) }}\"}}"
    );
    let resp = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(body["errors"].is_array(), "{body}");
    let data = app.gql(Some(&t), RUN, json!({ "id": run })).await;
    assert_eq!(data["run"]["latestMetrics"], json!([]));
}

#[tokio::test]
async fn deleting_an_experiment_removes_its_runs() {
    let app = TestApp::spawn().await;
    let (t, experiment, run) = setup(&app).await;
    app.log_metrics(&t, &run, json!([{"key": "m", "value": 1.0}]))
        .await;
    app.gql(
        Some(&t),
        "mutation($id: ID!) { deleteExperiment(id: $id) }",
        json!({ "id": experiment }),
    )
    .await;
    let data = app
        .gql(
            Some(&t),
            "query($id: ID!) { run(id: $id) { id } }",
            json!({ "id": run }),
        )
        .await;
    assert!(data["run"].is_null());
}

async fn points_of(app: &TestApp, run: &str) -> i64 {
    let run: uuid::Uuid = run.parse().unwrap();
    sqlx::query_scalar("SELECT count(*) FROM metric_points WHERE run_id = $1")
        .bind(run)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn deleting_a_run_its_experiment_or_its_project_deletes_its_metric_points() {
    let app = TestApp::spawn().await;
    let (_, s) = app.user("owner").await;
    let t = &s.access;
    let mut made = Vec::new();
    for name in ["run", "experiment", "project", "kept"] {
        let project = app.create_project(t, name).await;
        let experiment = app.create_experiment(t, &project, name).await;
        let run = app.create_run(t, &experiment, name).await;
        app.log_metrics(
            t,
            &run,
            json!([{ "key": "m", "value": 1.0 }, { "key": "m", "value": 2.0, "step": 1 }]),
        )
        .await;
        assert_eq!(points_of(&app, &run).await, 2);
        made.push((project, experiment, run));
    }
    for (what, id) in [
        ("Run", &made[0].2),
        ("Experiment", &made[1].1),
        ("Project", &made[2].0),
    ] {
        let query = format!("mutation($id: ID!) {{ delete{what}(id: $id) }}");
        let data = app.gql(Some(t), &query, json!({ "id": id })).await;
        assert_eq!(data[format!("delete{what}")], true, "{data}");
    }
    for (_, _, run) in &made[..3] {
        assert_eq!(
            points_of(&app, run).await,
            0,
            "the points of deleted run {run}"
        );
    }
    assert_eq!(
        points_of(&app, &made[3].2).await,
        2,
        "another run's points stay"
    );
}

#[tokio::test]
async fn a_run_deleted_while_logged_to_answers_not_found_and_keeps_no_point() {
    let app = TestApp::spawn().await;
    let (t, experiment, _) = setup(&app).await;
    for round in 0..20 {
        let run = app.create_run(&t, &experiment, &format!("r{round}")).await;
        let points = json!([{ "key": "m", "value": 1.0 }, { "key": "n", "value": 2.0 }]);
        let logs: Vec<_> = (0..8)
            .map(|_| {
                app.gql_raw(
                    Some(&t),
                    common::LOG_METRICS,
                    json!({ "r": run, "m": points }),
                )
            })
            .collect();
        let deleted = app.gql_raw(
            Some(&t),
            "mutation($id: ID!) { deleteRun(id: $id) }",
            json!({ "id": run }),
        );
        let (answers, (_, deleted)) = tokio::join!(futures_util::future::join_all(logs), deleted);
        assert_eq!(deleted["data"]["deleteRun"], true, "{deleted}");
        for (_, body) in answers {
            let written = body["data"]["logMetrics"] == 2;
            let refused = error_code(&body).as_deref() == Some("NOT_FOUND");
            assert!(
                written || refused,
                "each call wrote all or was told the run is gone: {body}"
            );
        }
        let orphans: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM metric_points p WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = p.run_id)",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        assert_eq!(
            orphans, 0,
            "points left behind by run {run} (round {round})"
        );
    }
}

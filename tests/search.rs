//! The runs search: filters with AND / OR, ordering with NULLs last, keyset paging.

mod common;

use common::TestApp;
use serde_json::{Value, json};

const SEARCH: &str =
    "query($e: [ID!]!, $f: RunFilter, $o: RunOrderBy, $first: Int, $after: String) {
  runs(experimentIds: $e, filter: $f, orderBy: $o, first: $first, after: $after) {
    totalCount edges { node { name } } pageInfo { hasNextPage endCursor } } }";

/// Ten runs r0..r9: loss = 1 - i/10 (r9 has none), param opt = adam for even i, tag
/// team = a for i < 5, status FINISHED for i % 3 == 0.
async fn setup(app: &TestApp) -> (String, String) {
    let (_, s) = app.user("searcher").await;
    let project = app.create_project(&s.access, "p").await;
    let experiment = app.create_experiment(&s.access, &project, "e").await;
    for i in 0..10 {
        let opt = if i % 2 == 0 { "adam" } else { "sgd" };
        let team = if i < 5 { "a" } else { "b" };
        let data = app
            .gql(
                Some(&s.access),
                "mutation($i: CreateRunInput!) { createRun(input: $i) { id } }",
                json!({ "i": { "experimentId": experiment, "name": format!("r{i}"),
                    "params": [{"key": "opt", "value": opt}, {"key": "layers", "value": format!("{}", i % 4)}],
                    "tags": [{"key": "team", "value": team}] } }),
            )
            .await;
        let run = data["createRun"]["id"].as_str().unwrap().to_string();
        if i < 9 {
            app.log_metrics(
                &s.access,
                &run,
                json!([{ "key": "loss", "value": 1.0 - f64::from(i) / 10.0 }]),
            )
            .await;
        }
        if i % 3 == 0 {
            app.gql(
                Some(&s.access),
                "mutation($id: ID!) { updateRun(id: $id, input: {status: FINISHED}) { id } }",
                json!({ "id": run }),
            )
            .await;
        }
    }
    (s.access, experiment)
}

fn names(data: &Value) -> Vec<String> {
    data["runs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// The run names of every page of the connection at `at` (a JSON pointer into the data),
/// asking `query` with `vars` plus `after` until `hasNextPage` is false.
async fn all_pages(app: &TestApp, t: &str, query: &str, mut vars: Value, at: &str) -> Vec<String> {
    let mut paged = Vec::new();
    loop {
        let data = app.gql(Some(t), query, vars.clone()).await;
        let runs = data.pointer(at).unwrap().clone();
        paged.extend(names(&json!({ "runs": runs })));
        if !runs["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return paged;
        }
        vars["after"] = runs["pageInfo"]["endCursor"].clone();
    }
}

async fn search(app: &TestApp, t: &str, e: &str, filter: Value, order: Value) -> Value {
    app.gql(
        Some(t),
        SEARCH,
        json!({ "e": [e], "f": filter, "o": order, "first": 100 }),
    )
    .await
}

#[tokio::test]
async fn filters_combine_with_and_and_or() {
    let app = TestApp::spawn().await;
    let (t, e) = setup(&app).await;
    let data = search(&app, &t, &e, json!({ "params": [{"key": "opt", "equals": "adam"}], "tags": [{"key": "team", "equals": "a"}] }), Value::Null).await;
    assert_eq!(names(&data), ["r0", "r2", "r4"]);
    assert_eq!(data["runs"]["totalCount"], 3);

    let data = search(&app, &t, &e, json!({ "or": [{"status": ["FINISHED"]}, {"metrics": [{"key": "loss", "op": "LT", "value": 0.25}]}] }), Value::Null).await;
    assert_eq!(names(&data), ["r0", "r3", "r6", "r8", "r9"]);

    let data = search(&app, &t, &e, json!({ "params": [{"key": "layers", "in": ["1", "3"]}], "metrics": [{"key": "loss", "op": "GTE", "value": 0.5}] }), Value::Null).await;
    assert_eq!(names(&data), ["r1", "r3", "r5"]);

    let data = search(&app, &t, &e, json!({ "nameContains": "R1" }), Value::Null).await;
    assert_eq!(names(&data), ["r1"]);
}

#[tokio::test]
async fn ordering_by_a_metric_puts_runs_without_it_last() {
    let app = TestApp::spawn().await;
    let (t, e) = setup(&app).await;
    let data = search(
        &app,
        &t,
        &e,
        Value::Null,
        json!({ "metric": "loss", "direction": "ASC" }),
    )
    .await;
    assert_eq!(
        names(&data),
        ["r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1", "r0", "r9"]
    );
    let data = search(
        &app,
        &t,
        &e,
        Value::Null,
        json!({ "metric": "loss", "direction": "DESC" }),
    )
    .await;
    assert_eq!(
        names(&data),
        ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"]
    );
}

#[tokio::test]
async fn keyset_pages_cover_every_run_once_in_every_order() {
    let app = TestApp::spawn().await;
    let (t, e) = setup(&app).await;
    for order in [
        json!({ "metric": "loss", "direction": "ASC" }),
        json!({ "metric": "loss", "direction": "DESC" }),
        json!({ "param": "opt", "direction": "DESC" }),
        json!({ "attribute": "NAME", "direction": "DESC" }),
        json!({ "attribute": "STATUS" }),
        json!({ "attribute": "ENDED_AT" }),
        json!({ "attribute": "STARTED_AT", "direction": "DESC" }),
    ] {
        let whole = search(&app, &t, &e, Value::Null, order.clone()).await;
        let vars = json!({ "e": [e], "o": order, "first": 3 });
        let paged = all_pages(&app, &t, SEARCH, vars, "/runs").await;
        assert_eq!(paged, names(&whole), "{order}");
        assert_eq!(paged.len(), 10);
    }
}

#[tokio::test]
async fn bad_search_input_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (t, e) = setup(&app).await;
    let deep = json!({ "and": [{ "and": [{ "and": [{ "and": [{ "status": ["RUNNING"] }] }] }] }] });
    for (vars, field) in [
        (
            json!({ "e": [e], "o": { "metric": "loss", "param": "opt" } }),
            "orderBy",
        ),
        (
            json!({ "e": [e], "f": { "params": [{"key": "opt"}] } }),
            "filter.params",
        ),
        (json!({ "e": [e], "f": deep }), "filter"),
        (json!({ "e": [e], "after": "garbage" }), "after"),
        (json!({ "e": [], }), "experimentIds"),
        (json!({ "e": [e], "first": 101 }), "first"),
    ] {
        let (_, body) = app.gql_raw(Some(&t), SEARCH, vars).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn nested_experiment_runs_use_the_same_filters() {
    let app = TestApp::spawn().await;
    let (t, e) = setup(&app).await;
    let data = app
        .gql(
            Some(&t),
            "query($id: ID!) { experiment(id: $id) { runs(first: 2, filter: {tags: [{key: \"team\", equals: \"b\"}]}, orderBy: {metric: \"loss\"}) { totalCount edges { node { name } } } } }",
            json!({ "id": e }),
        )
        .await;
    let runs = &data["experiment"]["runs"];
    assert_eq!(runs["totalCount"], 5);
    let got: Vec<&str> = runs["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["r8", "r7"]);
}

#[tokio::test]
async fn an_experiments_runs_in_the_default_order_page_with_the_searchs_cursors() {
    // `Experiment.runs` without filter or order reads a plain statement, not the search
    // builder: its pages and cursors must agree with `Query.runs` in the same order.
    let app = TestApp::spawn().await;
    let (t, e) = setup(&app).await;
    const NESTED: &str = "query($id: ID!, $first: Int, $after: String) {
        experiment(id: $id) { runs(first: $first, after: $after) {
            edges { cursor node { name } } pageInfo { hasNextPage endCursor } } } }";
    let whole = search(&app, &t, &e, Value::Null, Value::Null).await;
    assert_eq!(names(&whole).len(), 10);
    let vars = json!({ "id": e, "first": 4 });
    let paged = all_pages(&app, &t, NESTED, vars, "/experiment/runs").await;
    assert_eq!(paged, names(&whole));
    // A cursor of the search resumes the nested list at the same place, and back.
    let with_cursors = app
        .gql(
            Some(&t),
            "query($e: [ID!]!) { runs(experimentIds: $e, first: 100) { edges { cursor } } }",
            json!({ "e": [e] }),
        )
        .await;
    let third = with_cursors["runs"]["edges"][2]["cursor"].clone();
    assert!(third.is_string());
    let rest = app
        .gql(
            Some(&t),
            NESTED,
            json!({ "id": e, "first": 100, "after": third }),
        )
        .await;
    assert_eq!(
        names(&json!({ "runs": rest["experiment"]["runs"] })),
        names(&whole)[3..].to_vec()
    );
    let nested_third = app
        .gql(Some(&t), NESTED, json!({ "id": e, "first": 3 }))
        .await["experiment"]["runs"]["pageInfo"]["endCursor"]
        .clone();
    let data = app
        .gql(
            Some(&t),
            SEARCH,
            json!({ "e": [e], "first": 100, "after": nested_third }),
        )
        .await;
    assert_eq!(names(&data), names(&whole)[3..].to_vec());
}

#[tokio::test]
async fn the_plain_listing_of_many_experiments_merges_them_oldest_first() {
    let app = TestApp::spawn().await;
    let (_, s) = app.user("lister").await;
    let t = s.access;
    let mut experiments = Vec::new();
    for p in 0..2 {
        let project = app.create_project(&t, &format!("p{p}")).await;
        for e in 0..2 {
            experiments.push(app.create_experiment(&t, &project, &format!("e{e}")).await);
        }
    }
    // r0..r11 made round-robin over the four experiments: each page must interleave them.
    for i in 0..12 {
        app.create_run(&t, &experiments[i % 4], &format!("r{i}"))
            .await;
    }
    let made: Vec<String> = (0..12).map(|i| format!("r{i}")).collect();
    // A duplicate id changes nothing.
    let mut ids = experiments.clone();
    ids.push(experiments[0].clone());
    let plain = json!({ "e": ids, "first": 5 });
    assert_eq!(all_pages(&app, &t, SEARCH, plain, "/runs").await, made);
    // The same order as the search builder's (a filter every run matches forces it).
    let built = json!({ "e": ids, "first": 5, "f": { "nameContains": "r" } });
    assert_eq!(all_pages(&app, &t, SEARCH, built, "/runs").await, made);
    let data = app
        .gql(Some(&t), SEARCH, json!({ "e": ids, "first": 5 }))
        .await;
    assert_eq!(data["runs"]["totalCount"], 12);
}

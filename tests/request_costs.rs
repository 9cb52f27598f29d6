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
    // Projects, their experiments, their runs (the default order's plain statement): three,
    // whatever the counts. The caller's roles came with the credential's own statement.
    assert_eq!(body["extensions"]["sqlStatements"], 3, "{body}");
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
    // The experiments and the search: two, however many experiments are named (the roles
    // in their projects came with the credential).
    assert_eq!(body["extensions"]["sqlStatements"], 2, "{body}");
}

#[tokio::test]
async fn roles_beyond_those_read_with_the_credential_are_looked_up() {
    let app = TestApp::spawn().await;
    app.register(&unique_email("admin")).await;
    let s = app.register(&unique_email("many-projects")).await;
    let project = app.create_project(&s.access, "beyond").await;
    let read = "query($id: ID!) { project(id: $id) { name } }";
    let (_, body) = app
        .gql_raw(Some(&s.access), read, json!({ "id": project }))
        .await;
    assert_eq!(body["data"]["project"]["name"], "beyond");
    // The project, and no role lookup: the role came with the credential.
    assert_eq!(body["extensions"]["sqlStatements"], 1, "{body}");

    // 200 memberships whose ids sort before the project's: the credential carries those.
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    sqlx::query(
        "WITH p AS (
             INSERT INTO projects (id, name, created_by)
             SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'filler-' || i, $1
             FROM generate_series(1, 200) AS i RETURNING id)
         INSERT INTO project_members (project_id, user_id, role) SELECT id, $1, 'VIEWER' FROM p",
    )
    .bind(s.user_id.parse::<uuid::Uuid>().unwrap())
    .execute(&db)
    .await
    .unwrap();
    // Still readable, at the price of one role lookup, once the server has heard of the
    // new memberships (PostgreSQL's notification; until then it answers from the
    // principal it kept, which holds the project's role).
    let started = std::time::Instant::now();
    loop {
        let (_, body) = app
            .gql_raw(Some(&s.access), read, json!({ "id": project }))
            .await;
        assert_eq!(body["data"]["project"]["name"], "beyond", "{body}");
        if body["extensions"]["sqlStatements"] == 2 {
            break;
        }
        assert_eq!(body["extensions"]["sqlStatements"], 1, "{body}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "the new memberships were never heard of: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // And a project the caller is not in stays hidden, whatever the credential carries.
    let other = app.register(&unique_email("outsider")).await;
    let (_, body) = app
        .gql_raw(Some(&other.access), read, json!({ "id": project }))
        .await;
    assert_eq!(body["data"]["project"], serde_json::Value::Null, "{body}");
}

#[tokio::test]
async fn a_model_read_costs_one_statement_and_its_versions_page_one_more() {
    let app = TestApp::spawn().await;
    app.register(&unique_email("admin")).await;
    let s = app.register(&unique_email("registry")).await;
    let project = app.create_project(&s.access, "registry").await;
    let experiment = app.create_experiment(&s.access, &project, "e").await;
    let model = app.create_model(&s.access, &project, "m").await;
    let mut first_version = None;
    let mut runs = Vec::new();
    for i in 0..3 {
        let run = app
            .create_run(&s.access, &experiment, &format!("r{i}"))
            .await;
        let version = app.create_version(&s.access, &model, Some(&run)).await;
        first_version.get_or_insert(version["id"].clone());
        runs.push(run);
    }
    for alias in ["champion", "baseline"] {
        app.gql(
            Some(&s.access),
            "mutation($m: ID!, $a: String!, $v: ID!) { setModelAlias(modelId: $m, alias: $a, versionId: $v) { id } }",
            json!({ "m": model, "a": alias, "v": first_version }),
        )
        .await;
    }
    let get = "query($m: ID!) { model(id: $m) { id name description createdAt updatedAt
        latestVersion { id version stage description createdAt sourceRun { id } }
        aliases { alias versionNumber } tags { key value } } }";
    let (_, body) = app
        .gql_raw(Some(&s.access), get, json!({ "m": model }))
        .await;
    assert_eq!(
        body["data"]["model"]["latestVersion"]["version"], 3,
        "{body}"
    );
    assert_eq!(
        body["data"]["model"]["aliases"],
        json!([
            { "alias": "baseline", "versionNumber": 1 },
            { "alias": "champion", "versionNumber": 1 },
        ]),
        "{body}"
    );
    assert_eq!(
        body["data"]["model"]["latestVersion"]["sourceRun"]["id"], runs[2],
        "{body}"
    );
    // The model with its aliases and its latest version (with that version's source run),
    // in one statement; no role lookup.
    assert_eq!(body["extensions"]["sqlStatements"], 1, "{body}");
    let versions = "query($m: ID!) { model(id: $m) { versions(first: 100) { edges { node {
        id version stage description createdAt aliases sourceRun { id } } } } } }";
    let (_, body) = app
        .gql_raw(Some(&s.access), versions, json!({ "m": model }))
        .await;
    assert_eq!(
        body["data"]["model"]["versions"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "{body}"
    );
    // Newest first: the first version is last, with its aliases by name.
    assert_eq!(
        body["data"]["model"]["versions"]["edges"][2]["node"]["aliases"],
        json!(["baseline", "champion"]),
        "{body}"
    );
    assert_eq!(
        body["data"]["model"]["versions"]["edges"][0]["node"]["aliases"],
        json!([]),
        "{body}"
    );
    // Newest first, each with its own run.
    for (edge, run) in body["data"]["model"]["versions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .zip(runs.iter().rev())
    {
        assert_eq!(edge["node"]["sourceRun"]["id"], run.as_str(), "{body}");
    }
    // The model, the page of versions (each with its aliases and source run): one each,
    // however many versions.
    assert_eq!(body["extensions"]["sqlStatements"], 2, "{body}");
}

#[tokio::test]
async fn logging_metrics_costs_one_statement_where_the_credential_proves_the_role() {
    let app = TestApp::spawn().await;
    app.register(&unique_email("admin")).await;
    let owner = app.register(&unique_email("owner")).await;
    let project = app.create_project(&owner.access, "p").await;
    let experiment = app.create_experiment(&owner.access, &project, "e").await;
    let run = app.create_run(&owner.access, &experiment, "r").await;
    let log = "mutation($r: ID!, $v: Float!) { logMetrics(runId: $r, metrics: [{ key: \"loss\", value: $v, step: 1 }]) }";
    let (_, body) = app
        .gql_raw(Some(&owner.access), log, json!({ "r": run, "v": 0.5 }))
        .await;
    assert_eq!(body["data"]["logMetrics"], 1, "{body}");
    // The run's project was among the writable ones the credential carried: the insert
    // alone, no run or role lookup.
    assert_eq!(body["extensions"]["sqlStatements"], 1, "{body}");

    // A VIEWER is refused and nothing is written; a stranger does not learn the run exists.
    let viewer_email = unique_email("viewer");
    app.register(&viewer_email).await;
    app.add_member(&owner.access, &project, &viewer_email, "VIEWER")
        .await;
    let viewer = common::Session::from_payload(
        &app.login(&viewer_email, common::PASSWORD).await.1["data"]["login"],
    );
    let refused = app
        .gql_err(Some(&viewer.access), log, json!({ "r": run, "v": 9.0 }))
        .await;
    assert_eq!(refused, "FORBIDDEN");
    let stranger = app.register(&unique_email("stranger")).await;
    let hidden = app
        .gql_err(Some(&stranger.access), log, json!({ "r": run, "v": 9.0 }))
        .await;
    assert_eq!(hidden, "NOT_FOUND");
    let latest = app
        .gql(
            Some(&owner.access),
            "query($r: ID!) { run(id: $r) { latestMetrics { value } metricHistory(key: \"loss\") { totalCount } } }",
            json!({ "r": run }),
        )
        .await;
    assert_eq!(latest["run"]["latestMetrics"][0]["value"], 0.5);
    assert_eq!(latest["run"]["metricHistory"]["totalCount"], 1);

    // Invalid points on a hidden run: the run's absence is what the caller hears first.
    let invalid = "mutation($r: ID!) { logMetrics(runId: $r, metrics: [{ key: \"\", value: 1 }]) }";
    let code = app
        .gql_err(Some(&stranger.access), invalid, json!({ "r": run }))
        .await;
    assert_eq!(code, "NOT_FOUND");
}

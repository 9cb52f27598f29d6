//! How answers are written: in the order the fields were asked for (the GraphQL spec's
//! rule, which a JSON tree with sorted keys breaks), straight from the execution result.

mod common;

use common::{TestApp, unique_email};
use serde_json::json;

/// Where each of `needles` first occurs in `text`, in order; panics on a missing one.
fn positions(text: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| {
            text.find(n)
                .unwrap_or_else(|| panic!("{n} missing in {text}"))
        })
        .collect()
}

#[tokio::test]
async fn fields_come_back_in_the_order_they_were_asked_for() {
    let app = TestApp::spawn().await;
    let s = app.register(&unique_email("order")).await;
    let project = app.create_project(&s.access, "ordered").await;
    // Reverse-alphabetical on purpose: sorted keys would put them the other way round.
    let query = r#"query($id: ID!) {
        zeta: me { role name id email }
        project(id: $id) { updatedAt name id createdAt }
        alpha: __typename
    }"#;
    let resp = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&s.access)
        .json(&json!({ "query": query, "variables": { "id": project } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    let at = positions(
        &text,
        &[
            "\"zeta\"",
            "\"role\"",
            "\"name\"",
            "\"id\"",
            "\"email\"",
            "\"project\"",
            "\"updatedAt\"",
            "\"createdAt\"",
            "\"alpha\"",
        ],
    );
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "fields out of the requested order: {text}"
    );
}

#[tokio::test]
async fn errors_keep_their_codes_and_data_stays_beside_them() {
    let app = TestApp::spawn().await;
    let s = app.register(&unique_email("errs")).await;
    let (status, body) = app
        .gql_raw(
            Some(&s.access),
            "{ me { id } project(id: \"not-an-id\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body["data"]["me"]["id"].is_string(), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["path"], json!(["project"]));
}

/// Objects with a plain selection are resolved directly (`graphql::direct`); a fragment
/// sends the same selection down the engine's own path. Both must write the same bytes
/// for every field that has a direct value, on every type that has such fields, with nulls
/// and values alike, and with nested objects between them.
#[tokio::test]
async fn direct_and_engine_paths_answer_alike() {
    let app = TestApp::spawn().await;
    let s = app.register(&unique_email("direct")).await;
    let t = s.access.as_str();
    let project = app.create_project(t, "direct-paths").await;
    let experiment = app.create_experiment(t, &project, "exp").await;
    // Left RUNNING, so its `endedAt` is null.
    app.create_run(t, &experiment, "running").await;
    let finished = app.create_run(t, &experiment, "finished").await;
    app.gql(
        Some(t),
        r#"mutation($r: ID!) {
            updateRun(id: $r, input: {status: FINISHED}) { id }
            logParams(runId: $r, params: [{key: "lr", value: "0.1"}]) { id }
            setRunTags(runId: $r, tags: [{key: "team", value: "nlp"}]) { id }
        }"#,
        json!({ "r": finished }),
    )
    .await;
    app.log_metrics(
        t,
        &finished,
        json!([{ "key": "loss", "value": 0.25, "step": 3, "timestamp": "2026-01-02T03:04:05.678Z" }]),
    )
    .await;
    let model = app.create_model(t, &project, "m").await;
    let v1 = app.create_version(t, &model, Some(&finished)).await;
    app.create_version(t, &model, None).await;
    app.gql(
        Some(t),
        r#"mutation($m: ID!, $v: ID!) {
            setModelVersionStage(id: $v, stage: PRODUCTION) { id }
            setModelAlias(modelId: $m, alias: "champion", versionId: $v) { id }
        }"#,
        json!({ "m": model, "v": v1["id"] }),
    )
    .await;

    let user = "id email name role disabled createdAt";
    let run = format!(
        "id name status startedAt endedAt createdBy {{ {user} }} params {{ key value }} tags {{ key value }} latestMetrics {{ key value step timestamp }} metricHistory(key: \"loss\") {{ edges {{ cursor node {{ step value timestamp }} }} }}"
    );
    let version = "id version stage aliases description createdAt";
    let shapes = [
        (
            "Project",
            "query($p: ID!, $m: ID!) { project(id: $p) { SEL } model(id: $m) { id } }",
            format!(
                "id name description createdAt updatedAt createdBy {{ {user} }} experiments {{ edges {{ cursor node {{ id name description createdAt updatedAt runs {{ edges {{ cursor node {{ {run} }} }} }} }} }} }}"
            ),
        ),
        (
            "Model",
            "query($p: ID!, $m: ID!) { project(id: $p) { id } model(id: $m) { SEL } }",
            format!(
                "id name description createdAt updatedAt tags {{ key value }} aliases {{ alias versionNumber updatedAt }} latestVersion {{ {version} sourceRun {{ id }} }} versions {{ nodes {{ {version} sourceRun {{ id name status }} }} edges {{ cursor node {{ {version} }} }} }}"
            ),
        ),
        (
            // Leaves and edges' nodes only: every page of runs is answered in place.
            "Project",
            "query($p: ID!, $m: ID!) { project(id: $p) { SEL } model(id: $m) { id } }",
            "id experiments { edges { node { runs { edges { cursor __typename node { __typename id title: name status startedAt endedAt } } nodes { id name } } } } }".to_owned(),
        ),
    ];
    for (type_name, query, selection) in shapes {
        let direct = query.replace("SEL", &selection);
        // The same selection in an inline fragment at every level: never plain.
        let through_engine = query.replace(
            "SEL",
            &format!(
                "... on {type_name} {{ {} }}",
                fragments_everywhere(&selection)
            ),
        );
        let variables = json!({ "p": project, "m": model });
        let a = answer_text(&app, t, &direct, &variables).await;
        let b = answer_text(&app, t, &through_engine, &variables).await;
        assert!(!a.contains("\"errors\""), "{a}");
        assert!(
            a.contains("\"endedAt\":null") || type_name == "Model",
            "{a}"
        );
        assert_eq!(a, b, "{type_name}: the direct path and the engine's differ");
        if selection.contains("title: name") {
            assert!(a.contains(r#""node":{"__typename":"Run","id":"#), "{a}");
            assert!(a.contains(r#""title":"running""#), "{a}");
        }
    }
}

/// The body of the answer to `query`, as the server wrote it.
async fn answer_text(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: &serde_json::Value,
) -> String {
    let resp = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    resp.text().await.unwrap()
}

/// Wraps every nested selection `{ … }` of `selection` in `{ ... { … } }` (an inline
/// fragment without a type condition), so no object in it has a plain selection.
fn fragments_everywhere(selection: &str) -> String {
    selection.replace("{ ", "{ ... { ").replace(" }", " } }")
}

//! The model registry: version numbering under concurrency, stages, aliases, lineage.

mod common;

use common::{TestApp, error_code};
use serde_json::{Value, json};

async fn setup(app: &TestApp) -> (String, String, String) {
    let (_, s) = app.user("mlops").await;
    let project = app.create_project(&s.access, "p").await;
    let model = app.create_model(&s.access, &project, "classifier").await;
    (s.access, project, model)
}

#[tokio::test]
async fn concurrent_version_creation_numbers_without_gaps_or_duplicates() {
    let app = TestApp::spawn().await;
    let (t, _, model) = setup(&app).await;
    let calls = (0..40).map(|_| app.create_version(&t, &model, None));
    let versions = futures_util::future::join_all(calls).await;
    let mut numbers: Vec<i64> = versions
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=40).collect::<Vec<i64>>());
    let data = app
        .gql(Some(&t), "query($id: ID!) { model(id: $id) { latestVersion { version } versions(first: 3) { totalCount edges { node { version } } } } }", json!({ "id": model }))
        .await;
    assert_eq!(data["model"]["latestVersion"]["version"], 40);
    assert_eq!(data["model"]["versions"]["totalCount"], 40);
    assert_eq!(
        data["model"]["versions"]["edges"][0]["node"]["version"], 40,
        "newest first"
    );
}

#[tokio::test]
async fn promoting_to_production_archives_the_previous_one_unless_asked_to_keep_it() {
    let app = TestApp::spawn().await;
    let (t, _, model) = setup(&app).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            app.create_version(&t, &model, None).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let promote = "mutation($id: ID!, $archive: Boolean!) { setModelVersionStage(id: $id, stage: PRODUCTION, archiveExisting: $archive) { stage } }";
    let read =
        "query($id: ID!) { model(id: $id) { versions { edges { node { version stage } } } } }";
    let stages = |data: &serde_json::Value| -> Vec<String> {
        data["model"]["versions"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["stage"].as_str().unwrap().to_string())
            .collect()
    };
    app.gql(Some(&t), promote, json!({ "id": ids[0], "archive": true }))
        .await;
    app.gql(Some(&t), promote, json!({ "id": ids[1], "archive": true }))
        .await;
    let data = app.gql(Some(&t), read, json!({ "id": model })).await;
    assert_eq!(
        stages(&data),
        ["NONE", "PRODUCTION", "ARCHIVED"],
        "v2 archived v1"
    );
    app.gql(Some(&t), promote, json!({ "id": ids[2], "archive": false }))
        .await;
    let data = app.gql(Some(&t), read, json!({ "id": model })).await;
    assert_eq!(
        stages(&data),
        ["PRODUCTION", "PRODUCTION", "ARCHIVED"],
        "v3 kept v2"
    );
}

#[tokio::test]
async fn an_alias_is_unique_per_model_moves_between_versions_and_keeps_its_history() {
    let app = TestApp::spawn().await;
    let (t, _, model) = setup(&app).await;
    let v1 = app.create_version(&t, &model, None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v2 = app.create_version(&t, &model, None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let set = "mutation($m: ID!, $v: ID!) { setModelAlias(modelId: $m, alias: \"champion\", versionId: $v) { version aliases } }";
    let data = app.gql(Some(&t), set, json!({ "m": model, "v": v1 })).await;
    assert_eq!(data["setModelAlias"]["aliases"], json!(["champion"]));
    app.gql(Some(&t), set, json!({ "m": model, "v": v2 })).await;
    let read = "query($id: ID!) { model(id: $id) { aliases { alias versionNumber version { version } } aliasHistory { alias version changedBy { email } } versions { edges { node { version aliases } } } } }";
    let data = app.gql(Some(&t), read, json!({ "id": model })).await;
    let m = &data["model"];
    assert_eq!(
        m["aliases"],
        json!([{ "alias": "champion", "versionNumber": 2, "version": { "version": 2 } }])
    );
    assert_eq!(
        m["versions"]["edges"][1]["node"]["aliases"],
        json!([]),
        "v1 lost the alias"
    );
    // A page lists each version's own aliases, in alias order.
    let named = "mutation($m: ID!, $v: ID!, $a: String!) { setModelAlias(modelId: $m, alias: $a, versionId: $v) { version } }";
    for (alias, version) in [("zeta", &v1), ("alpha", &v2), ("beta", &v1)] {
        app.gql(
            Some(&t),
            named,
            json!({ "m": model, "v": version, "a": alias }),
        )
        .await;
    }
    let data = app.gql(Some(&t), read, json!({ "id": model })).await;
    let pages: Vec<&Value> = data["model"]["versions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["aliases"])
        .collect();
    assert_eq!(
        pages,
        [&json!(["alpha", "champion"]), &json!(["beta", "zeta"])]
    );
    for alias in ["zeta", "alpha", "beta"] {
        app.gql(
            Some(&t),
            "mutation($m: ID!, $a: String!) { deleteModelAlias(modelId: $m, alias: $a) }",
            json!({ "m": model, "a": alias }),
        )
        .await;
    }
    let history: Vec<i64> = m["aliasHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_i64().unwrap())
        .collect();
    assert_eq!(history, vec![2, 1], "newest first");
    assert!(m["aliasHistory"][0]["changedBy"]["email"].is_string());

    app.gql(
        Some(&t),
        "mutation($m: ID!) { deleteModelAlias(modelId: $m, alias: \"champion\") }",
        json!({ "m": model }),
    )
    .await;
    let data = app.gql(Some(&t), read, json!({ "id": model })).await;
    assert_eq!(data["model"]["aliases"], json!([]));
    assert!(
        data["model"]["aliasHistory"][0]["version"].is_null(),
        "the deletion is recorded"
    );
}

#[tokio::test]
async fn an_alias_cannot_point_at_another_models_version() {
    let app = TestApp::spawn().await;
    let (t, project, model) = setup(&app).await;
    let other = app.create_model(&t, &project, "other").await;
    let foreign = app.create_version(&t, &other, None).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = app
        .gql_raw(
            Some(&t),
            "mutation($m: ID!, $v: ID!) { setModelAlias(modelId: $m, alias: \"champion\", versionId: $v) { id } }",
            json!({ "m": model, "v": foreign }),
        )
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("BAD_USER_INPUT"));
    assert_eq!(body["errors"][0]["extensions"]["field"], "versionId");
}

#[tokio::test]
async fn lineage_goes_both_ways() {
    let app = TestApp::spawn().await;
    let (t, project, model) = setup(&app).await;
    let experiment = app.create_experiment(&t, &project, "e").await;
    let run = app.create_run(&t, &experiment, "trainer").await;
    let version = app.create_version(&t, &model, Some(&run)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let data = app
        .gql(
            Some(&t),
            "query($id: ID!) { modelVersion(id: $id) { sourceRun { name modelVersions { id } } } }",
            json!({ "id": version }),
        )
        .await;
    assert_eq!(data["modelVersion"]["sourceRun"]["name"], "trainer");
    assert_eq!(
        data["modelVersion"]["sourceRun"]["modelVersions"][0]["id"],
        version.as_str()
    );

    // The version is answered with its run as it registers it, and as a page lists it.
    let created = app
        .gql(
            Some(&t),
            "mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { version sourceRun { id name status } } }",
            json!({ "i": { "modelId": model, "sourceRunId": run } }),
        )
        .await;
    assert_eq!(
        created["createModelVersion"]["sourceRun"],
        json!({ "id": run, "name": "trainer", "status": "RUNNING" }),
        "{created}"
    );
    let page = "query($m: ID!) { model(id: $m) { latestVersion { version sourceRun { id } }
        versions(first: 10) { nodes { version sourceRun { id } } } } }";
    let listed = app.gql(Some(&t), page, json!({ "m": model })).await;
    assert_eq!(
        listed["model"]["latestVersion"],
        json!({ "version": 2, "sourceRun": { "id": run } }),
        "{listed}"
    );
    assert_eq!(
        listed["model"]["versions"]["nodes"],
        json!([{ "version": 2, "sourceRun": { "id": run } }, { "version": 1, "sourceRun": { "id": run } }]),
        "{listed}"
    );

    // Deleting the run leaves the versions, without lineage.
    let deleted = app
        .gql(
            Some(&t),
            "mutation($id: ID!) { deleteRun(id: $id) }",
            json!({ "id": run }),
        )
        .await;
    assert_eq!(deleted["deleteRun"], true, "{deleted}");
    let listed = app.gql(Some(&t), page, json!({ "m": model })).await;
    assert_eq!(
        listed["model"]["versions"]["nodes"],
        json!([{ "version": 2, "sourceRun": null }, { "version": 1, "sourceRun": null }]),
        "{listed}"
    );
}

#[tokio::test]
async fn model_names_are_unique_per_project() {
    let app = TestApp::spawn().await;
    let (t, project, _) = setup(&app).await;
    let code = app
        .gql_err(Some(&t), "mutation($p: ID!) { createModel(input: {projectId: $p, name: \"classifier\"}) { id } }", json!({ "p": project }))
        .await;
    assert_eq!(code, "CONFLICT");
    let elsewhere = app.create_project(&t, "q").await;
    app.create_model(&t, &elsewhere, "classifier").await;
}

/// A model's latest version is read in the model's own statement (the view `model_reads`):
/// every way of reading a model, and a model changed by `updateModel`, answers the version
/// that is highest now, with its stage, aliases and source run.
#[tokio::test]
async fn every_read_of_a_model_answers_its_current_latest_version() {
    let app = TestApp::spawn().await;
    let (t, project, model) = setup(&app).await;
    let experiment = app.create_experiment(&t, &project, "e").await;
    let run = app.create_run(&t, &experiment, "trainer").await;
    let latest = "latestVersion { version stage aliases sourceRun { id } }";
    let reads = format!(
        "query($m: ID!, $p: ID!) {{ model(id: $m) {{ {latest} }}
           models(first: 10) {{ nodes {{ id {latest} }} }}
           project(id: $p) {{ models(first: 10) {{ nodes {{ id {latest} }} }} }} }}"
    );
    let each = |data: &Value| -> Vec<Value> {
        let listed = |nodes: &Value| {
            nodes
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["id"] == model.as_str())
                .expect("the model is listed")["latestVersion"]
                .clone()
        };
        vec![
            data["model"]["latestVersion"].clone(),
            listed(&data["models"]["nodes"]),
            listed(&data["project"]["models"]["nodes"]),
        ]
    };
    let vars = json!({ "m": model, "p": project });

    let data = app.gql(Some(&t), &reads, vars.clone()).await;
    assert_eq!(each(&data), vec![Value::Null; 3], "{data}");

    let first = app.create_version(&t, &model, Some(&run)).await;
    let second = app.create_version(&t, &model, None).await;
    app.gql(
        Some(&t),
        "mutation($m: ID!, $v: ID!) { setModelAlias(modelId: $m, alias: \"champion\", versionId: $v) { id } }",
        json!({ "m": model, "v": second["id"] }),
    )
    .await;
    app.gql(
        Some(&t),
        "mutation($v: ID!) { setModelVersionStage(id: $v, stage: STAGING) { stage } }",
        json!({ "v": second["id"] }),
    )
    .await;
    let data = app.gql(Some(&t), &reads, vars.clone()).await;
    let second_now =
        json!({ "version": 2, "stage": "STAGING", "aliases": ["champion"], "sourceRun": null });
    assert_eq!(each(&data), vec![second_now.clone(); 3], "{data}");

    let updated = app
        .gql(
            Some(&t),
            &format!("mutation($m: ID!) {{ updateModel(id: $m, input: {{ description: \"d\" }}) {{ description {latest} aliases {{ alias versionNumber }} }} }}"),
            json!({ "m": model }),
        )
        .await;
    assert_eq!(updated["updateModel"]["description"], "d");
    assert_eq!(
        updated["updateModel"]["latestVersion"], second_now,
        "{updated}"
    );
    assert_eq!(
        updated["updateModel"]["aliases"],
        json!([{ "alias": "champion", "versionNumber": 2 }]),
        "{updated}"
    );

    app.gql(
        Some(&t),
        "mutation($v: ID!) { deleteModelVersion(id: $v) }",
        json!({ "v": second["id"] }),
    )
    .await;
    let data = app.gql(Some(&t), &reads, vars).await;
    let first_now =
        json!({ "version": 1, "stage": "NONE", "aliases": [], "sourceRun": { "id": run } });
    assert_eq!(each(&data), vec![first_now; 3], "{data}");
    assert_eq!(first["version"], 1);
}

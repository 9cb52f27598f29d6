//! The role matrix: every mutation and the nested read paths, for a non-member, a VIEWER,
//! an EDITOR, an OWNER and an ADMIN. A project you cannot see behaves as if it did not
//! exist; a visible one without the role gives FORBIDDEN.

mod common;

use common::{Session, TestApp, error_code};
use serde_json::{Value, json};

struct Cast {
    admin: Session,
    owner: Session,
    editor: Session,
    viewer: Session,
    outsider: Session,
    editor_email: String,
    viewer_email: String,
    newcomer_email: String,
    bystander: Session,
    bystander_email: String,
}

async fn cast(app: &TestApp) -> Cast {
    let (_, admin) = app.user("admin").await; // first account: ADMIN
    let (_, owner) = app.user("owner").await;
    let (editor_email, editor) = app.user("editor").await;
    let (viewer_email, viewer) = app.user("viewer").await;
    let (_, outsider) = app.user("outsider").await;
    let (newcomer_email, _) = app.user("newcomer").await;
    let (bystander_email, bystander) = app.user("bystander").await;
    Cast {
        admin,
        owner,
        editor,
        viewer,
        outsider,
        editor_email,
        viewer_email,
        newcomer_email,
        bystander,
        bystander_email,
    }
}

/// A project with one of everything, owned by `owner`, with an editor and a viewer.
struct World {
    project: String,
    experiment: String,
    run: String,
    model: String,
    version: String,
}

async fn world(app: &TestApp, c: &Cast) -> World {
    let owner = &c.owner.access;
    let project = app.create_project(owner, "matrix").await;
    app.add_member(owner, &project, &c.editor_email, "EDITOR")
        .await;
    app.add_member(owner, &project, &c.viewer_email, "VIEWER")
        .await;
    // The member whose role the member-management mutations change.
    app.add_member(owner, &project, &c.bystander_email, "VIEWER")
        .await;
    let experiment = app.create_experiment(owner, &project, "exp").await;
    let run = app.create_run(owner, &experiment, "run").await;
    let model = app.create_model(owner, &project, "model").await;
    let version = app.create_version(owner, &model, Some(&run)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql(
        Some(owner),
        "mutation($m: ID!, $v: ID!) { setModelAlias(modelId: $m, alias: \"champion\", versionId: $v) { id } }",
        json!({ "m": model, "v": version }),
    )
    .await;
    World {
        project,
        experiment,
        run,
        model,
        version,
    }
}

#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Needs {
    Editor,
    Owner,
}

fn mutations(w: &World, c: &Cast, member_id: &str) -> Vec<(&'static str, Needs, String, Value)> {
    let p = &w.project;
    vec![
        ("updateProject", Needs::Owner, "mutation($id: ID!) { updateProject(id: $id, input: {name: \"x\"}) { id } }".into(), json!({ "id": p })),
        ("deleteProject", Needs::Owner, "mutation($id: ID!) { deleteProject(id: $id) }".into(), json!({ "id": p })),
        ("addProjectMember", Needs::Owner, "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { role } }".into(),
            json!({ "i": { "projectId": p, "email": c.newcomer_email, "role": "VIEWER" } })),
        ("updateProjectMember", Needs::Owner, "mutation($i: UpdateProjectMemberInput!) { updateProjectMember(input: $i) { role } }".into(),
            json!({ "i": { "projectId": p, "userId": member_id, "role": "EDITOR" } })),
        ("removeProjectMember", Needs::Owner, "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) }".into(),
            json!({ "p": p, "u": member_id })),
        ("createExperiment", Needs::Editor, "mutation($i: CreateExperimentInput!) { createExperiment(input: $i) { id } }".into(),
            json!({ "i": { "projectId": p, "name": "another" } })),
        ("updateExperiment", Needs::Editor, "mutation($id: ID!) { updateExperiment(id: $id, input: {description: \"d\"}) { id } }".into(), json!({ "id": w.experiment })),
        ("deleteExperiment", Needs::Editor, "mutation($id: ID!) { deleteExperiment(id: $id) }".into(), json!({ "id": w.experiment })),
        ("createRun", Needs::Editor, "mutation($i: CreateRunInput!) { createRun(input: $i) { id } }".into(), json!({ "i": { "experimentId": w.experiment } })),
        ("updateRun", Needs::Editor, "mutation($id: ID!) { updateRun(id: $id, input: {status: FINISHED}) { id } }".into(), json!({ "id": w.run })),
        ("deleteRun", Needs::Editor, "mutation($id: ID!) { deleteRun(id: $id) }".into(), json!({ "id": w.run })),
        ("logParams", Needs::Editor, "mutation($id: ID!) { logParams(runId: $id, params: [{key: \"lr\", value: \"0.1\"}]) { id } }".into(), json!({ "id": w.run })),
        ("logMetrics", Needs::Editor, "mutation($id: ID!) { logMetrics(runId: $id, metrics: [{key: \"loss\", value: 1.0}]) }".into(), json!({ "id": w.run })),
        ("setRunTags", Needs::Editor, "mutation($id: ID!) { setRunTags(runId: $id, tags: [{key: \"k\", value: \"v\"}]) { id } }".into(), json!({ "id": w.run })),
        ("createModel", Needs::Editor, "mutation($i: CreateModelInput!) { createModel(input: $i) { id } }".into(), json!({ "i": { "projectId": p, "name": "m2" } })),
        ("updateModel", Needs::Editor, "mutation($id: ID!) { updateModel(id: $id, input: {description: \"d\"}) { id } }".into(), json!({ "id": w.model })),
        ("deleteModel", Needs::Editor, "mutation($id: ID!) { deleteModel(id: $id) }".into(), json!({ "id": w.model })),
        ("createModelVersion", Needs::Editor, "mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { id } }".into(),
            json!({ "i": { "modelId": w.model, "sourceRunId": w.run } })),
        ("setModelVersionStage", Needs::Editor, "mutation($id: ID!) { setModelVersionStage(id: $id, stage: STAGING) { id } }".into(), json!({ "id": w.version })),
        ("deleteModelVersion", Needs::Editor, "mutation($id: ID!) { deleteModelVersion(id: $id) }".into(), json!({ "id": w.version })),
        ("setModelAlias", Needs::Editor, "mutation($m: ID!, $v: ID!) { setModelAlias(modelId: $m, alias: \"prod\", versionId: $v) { id } }".into(),
            json!({ "m": w.model, "v": w.version })),
        ("deleteModelAlias", Needs::Editor, "mutation($m: ID!) { deleteModelAlias(modelId: $m, alias: \"champion\") }".into(), json!({ "m": w.model })),
    ]
}

#[tokio::test]
async fn every_mutation_answers_each_role_as_the_matrix_says() {
    let app = TestApp::spawn().await;
    let c = cast(&app).await;
    let callers: [(&str, &Session); 5] = [
        ("outsider", &c.outsider),
        ("viewer", &c.viewer),
        ("editor", &c.editor),
        ("owner", &c.owner),
        ("admin", &c.admin),
    ];
    let names: Vec<&str> = {
        let w = world(&app, &c).await;
        mutations(&w, &c, &c.bystander.user_id)
            .iter()
            .map(|m| m.0)
            .collect()
    };
    for (i, name) in names.iter().enumerate() {
        for (who, caller) in callers {
            // A fresh world per case: deletes and member changes must not leak into the next.
            let w = world(&app, &c).await;
            let (_, needs, query, vars) = mutations(&w, &c, &c.bystander.user_id).swap_remove(i);
            let (_, body) = app.gql_raw(Some(&caller.access), &query, vars).await;
            let expected = match (who, needs) {
                ("outsider", _) => Some("NOT_FOUND"),
                ("viewer", _) => Some("FORBIDDEN"),
                ("editor", Needs::Owner) => Some("FORBIDDEN"),
                _ => None,
            };
            assert_eq!(
                error_code(&body).as_deref(),
                expected,
                "{name} as {who}: {body}"
            );
        }
    }
}

#[tokio::test]
async fn a_non_member_sees_nothing_of_the_project() {
    let app = TestApp::spawn().await;
    let c = cast(&app).await;
    let w = world(&app, &c).await;
    let t = Some(c.outsider.access.as_str());
    for (field, id) in [
        ("project", &w.project),
        ("experiment", &w.experiment),
        ("run", &w.run),
        ("model", &w.model),
        ("modelVersion", &w.version),
    ] {
        let data = app
            .gql(
                t,
                &format!("query($id: ID!) {{ {field}(id: $id) {{ id }} }}"),
                json!({ "id": id }),
            )
            .await;
        assert!(data[field].is_null(), "{field} leaked: {data}");
    }
    let list = app
        .gql(
            t,
            "{ projects { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["projects"]["totalCount"], 0);
    let code = app
        .gql_err(
            t,
            "query($e: ID!) { runs(experimentIds: [$e]) { totalCount } }",
            json!({ "e": w.experiment }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
}

#[tokio::test]
async fn a_viewer_reads_everything_in_the_project() {
    let app = TestApp::spawn().await;
    let c = cast(&app).await;
    let w = world(&app, &c).await;
    let data = app
        .gql(
            Some(&c.viewer.access),
            "query($id: ID!) { run(id: $id) { experiment { project { id myRole members { role } } } modelVersions { version aliases model { name } } } }",
            json!({ "id": w.run }),
        )
        .await;
    assert_eq!(
        data["run"]["experiment"]["project"]["id"],
        w.project.as_str()
    );
    assert_eq!(data["run"]["experiment"]["project"]["myRole"], "VIEWER");
    assert_eq!(
        data["run"]["experiment"]["project"]["members"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(data["run"]["modelVersions"][0]["aliases"][0], "champion");
}

#[tokio::test]
async fn an_admin_sees_every_project_without_a_role() {
    let app = TestApp::spawn().await;
    let c = cast(&app).await;
    let w = world(&app, &c).await;
    let data = app
        .gql(
            Some(&c.admin.access),
            "query($id: ID!) { project(id: $id) { myRole } }",
            json!({ "id": w.project }),
        )
        .await;
    assert!(data["project"]["myRole"].is_null());
    let list = app
        .gql(
            Some(&c.admin.access),
            "{ projects { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(list["projects"]["totalCount"], 1);
}

#[tokio::test]
async fn nested_paths_across_projects_check_the_callers_role() {
    let app = TestApp::spawn().await;
    let c = cast(&app).await;
    let w = world(&app, &c).await;
    // The editor of `matrix` owns a second project and registers a version there from a
    // run of `matrix`: allowed, since the editor can read that run.
    let other = app.create_project(&c.editor.access, "other").await;
    let model = app.create_model(&c.editor.access, &other, "cross").await;
    let version = app
        .create_version(&c.editor.access, &model, Some(&w.run))
        .await;
    let version_id = version["id"].as_str().unwrap();
    // The outsider is made a viewer of `other` only.
    let outsider_email = app
        .gql(Some(&c.outsider.access), "{ me { email } }", json!({}))
        .await["me"]["email"]
        .as_str()
        .unwrap()
        .to_string();
    app.add_member(&c.editor.access, &other, &outsider_email, "VIEWER")
        .await;

    let seen = app
        .gql(
            Some(&c.outsider.access),
            "query($id: ID!) { modelVersion(id: $id) { version sourceRun { id name } } }",
            json!({ "id": version_id }),
        )
        .await;
    assert_eq!(seen["modelVersion"]["version"], 1);
    assert!(
        seen["modelVersion"]["sourceRun"].is_null(),
        "the run's project is not the outsider's: {seen}"
    );

    // The viewer of `matrix` sees the run's versions of `matrix` only, not of `other`.
    let lineage = app
        .gql(
            Some(&c.viewer.access),
            "query($id: ID!) { run(id: $id) { modelVersions { model { name } } } }",
            json!({ "id": w.run }),
        )
        .await;
    let names: Vec<&str> = lineage["run"]["modelVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["model"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["model"]);

    // Nobody can link a version to a run they cannot read.
    let outsider_project = app.create_project(&c.outsider.access, "mine").await;
    let outsider_model = app
        .create_model(&c.outsider.access, &outsider_project, "m")
        .await;
    let code = app
        .gql_err(
            Some(&c.outsider.access),
            "mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { id } }",
            json!({ "i": { "modelId": outsider_model, "sourceRunId": w.run } }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
}

#[tokio::test]
async fn a_read_only_api_token_reads_but_cannot_write_in_the_project() {
    let app = TestApp::spawn().await;
    let c = cast(&app).await;
    let w = world(&app, &c).await;
    let token = app.read_token(&c.owner.access).await;
    let data = app
        .gql(
            Some(&token),
            "query($id: ID!) { run(id: $id) { name } }",
            json!({ "id": w.run }),
        )
        .await;
    assert_eq!(data["run"]["name"], "run");
    let code = app
        .gql_err(
            Some(&token),
            "mutation($id: ID!) { deleteRun(id: $id) }",
            json!({ "id": w.run }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
}

//! What ADMINs see of the whole installation: the audit log, the system's status, and the
//! registry across projects.

mod common;

use common::{PASSWORD, TestApp};
use serde_json::{Value, json};

const AUDIT: &str = "query($f: AuditEventFilter, $first: Int, $after: String) {
    auditEvents(filter: $f, first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { kind actorEmail actor { email } subject { email } project { id } summary address }
    } }";

async fn audit(app: &TestApp, admin: &str, filter: Value) -> Vec<Value> {
    let data = app
        .gql(Some(admin), AUDIT, json!({ "f": filter, "first": 100 }))
        .await;
    data["auditEvents"]["nodes"].as_array().unwrap().clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn sign_ins_and_failed_sign_ins_are_recorded_with_who_and_where() {
    let app = TestApp::spawn().await;
    let (admin_email, admin) = app.user("admin").await;
    let (email, user) = app.user("member").await;
    let (_, wrong) = app.login(&email, "not the password at all").await;
    assert!(wrong["errors"].is_array());
    let (_, unknown) = app.login("nobody@example.com", "whatever-whatever").await;
    assert!(unknown["errors"].is_array());
    let (status, _) = app.login(&email, PASSWORD).await;
    assert_eq!(status, 200);

    let events = audit(&app, &admin.access, json!({ "userId": user.user_id })).await;
    assert_eq!(
        kinds(&events),
        ["SIGN_IN", "SIGN_IN_FAILED", "REGISTERED"],
        "newest first, only this user's"
    );
    assert_eq!(events[0]["actor"]["email"], email.as_str());
    assert_eq!(
        events[1]["actor"],
        Value::Null,
        "a failed sign-in has no actor"
    );
    assert_eq!(events[1]["subject"]["email"], email.as_str());
    assert_eq!(events[1]["summary"], "wrong password");
    assert_eq!(events[0]["address"], "127.0.0.1");

    let failed = audit(&app, &admin.access, json!({ "kinds": ["SIGN_IN_FAILED"] })).await;
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["actorEmail"], "nobody@example.com");
    assert_eq!(failed[0]["summary"], "no account has this email");
    assert!(
        !kinds(&audit(&app, &admin.access, json!({})).await).is_empty(),
        "{admin_email} sees everything without a filter"
    );
}

#[tokio::test]
async fn role_changes_disabling_memberships_and_tokens_are_recorded() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.user("admin").await;
    let (email, user) = app.user("member").await;
    let update =
        "mutation($id: ID!, $i: UpdateUserInput!) { updateUser(id: $id, input: $i) { id } }";
    app.gql(
        Some(&admin.access),
        update,
        json!({ "id": user.user_id, "i": { "role": "ADMIN" } }),
    )
    .await;
    app.gql(
        Some(&admin.access),
        update,
        json!({ "id": user.user_id, "i": { "role": "MEMBER", "disabled": true } }),
    )
    .await;
    app.gql(
        Some(&admin.access),
        update,
        json!({ "id": user.user_id, "i": { "disabled": true } }),
    )
    .await;
    app.gql(
        Some(&admin.access),
        update,
        json!({ "id": user.user_id, "i": { "disabled": false } }),
    )
    .await;
    let (_, again) = app.login(&email, PASSWORD).await;
    let token = again["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();

    let project = app.create_project(&token, "audited").await;
    let (other_email, other) = app.user("other").await;
    app.add_member(&token, &project, &other_email, "VIEWER")
        .await;
    app.gql(
        Some(&token),
        "mutation($i: UpdateProjectMemberInput!) { updateProjectMember(input: $i) { role } }",
        json!({ "i": { "projectId": project, "userId": other.user_id, "role": "EDITOR" } }),
    )
    .await;
    app.gql(
        Some(&token),
        "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) }",
        json!({ "p": project, "u": other.user_id }),
    )
    .await;
    let created = app
        .gql(
            Some(&token),
            "mutation { createApiToken(input: { name: \"ci\", scopes: [WRITE, READ] }) { apiToken { id } } }",
            json!({}),
        )
        .await;
    app.gql(
        Some(&token),
        "mutation($id: ID!) { revokeApiToken(id: $id) }",
        json!({ "id": created["createApiToken"]["apiToken"]["id"] }),
    )
    .await;

    let events = audit(&app, &admin.access, json!({ "userId": user.user_id })).await;
    assert_eq!(
        kinds(&events),
        [
            "API_TOKEN_REVOKED",
            "API_TOKEN_CREATED",
            "MEMBER_REMOVED",
            "MEMBER_ROLE_CHANGED",
            "MEMBER_ADDED",
            "SIGN_IN",
            "USER_ENABLED",
            "USER_DISABLED",
            "USER_ROLE_CHANGED",
            "USER_ROLE_CHANGED",
            "REGISTERED",
        ],
        "a change to the state the account already has (disabled twice) is not an event"
    );
    let summary = |i: usize| events[i]["summary"].as_str().unwrap().to_string();
    assert_eq!(summary(1), "API token \"ci\" (READ, WRITE), never expires");
    assert_eq!(summary(3), "role now EDITOR");
    assert_eq!(summary(4), format!("{other_email} added as VIEWER"));
    assert_eq!(summary(7), format!("{email} disabled; sessions ended"));
    assert_eq!(summary(9), format!("{email}: role MEMBER → ADMIN"));
    assert_eq!(events[4]["project"]["id"], project.as_str());
    assert_eq!(
        events[7]["actor"]["email"], events[9]["actor"]["email"],
        "the admin acted"
    );
    assert_eq!(events[7]["subject"]["email"], email.as_str());
}

#[tokio::test]
async fn stage_and_alias_moves_are_recorded_and_the_log_pages() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.user("admin").await;
    let project = app.create_project(&admin.access, "registry").await;
    let model = app
        .create_model(&admin.access, &project, "classifier")
        .await;
    let v1 = app.create_version(&admin.access, &model, None).await;
    let v2 = app.create_version(&admin.access, &model, None).await;
    app.gql(
        Some(&admin.access),
        "mutation($id: ID!) { setModelVersionStage(id: $id, stage: PRODUCTION) { id } }",
        json!({ "id": v1["id"] }),
    )
    .await;
    let alias = "mutation($m: ID!, $v: ID!) { setModelAlias(modelId: $m, alias: \"champion\", versionId: $v) { id } }";
    app.gql(
        Some(&admin.access),
        alias,
        json!({ "m": model, "v": v1["id"] }),
    )
    .await;
    app.gql(
        Some(&admin.access),
        alias,
        json!({ "m": model, "v": v2["id"] }),
    )
    .await;
    app.gql(
        Some(&admin.access),
        "mutation($m: ID!) { deleteModelAlias(modelId: $m, alias: \"champion\") }",
        json!({ "m": model }),
    )
    .await;
    let events = audit(
        &app,
        &admin.access,
        json!({ "kinds": ["STAGE_CHANGED", "ALIAS_SET", "ALIAS_DELETED"] }),
    )
    .await;
    let summaries: Vec<&str> = events
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        summaries,
        [
            "classifier: alias champion deleted",
            "classifier: alias champion → version 2",
            "classifier: alias champion → version 1",
            "version 1 → PRODUCTION (the previous PRODUCTION archived)",
        ]
    );

    // Pages of 2, newest first, without overlap, with the total.
    let first = app
        .gql(Some(&admin.access), AUDIT, json!({ "first": 2 }))
        .await;
    let total = first["auditEvents"]["totalCount"].as_i64().unwrap();
    assert!(total >= 5);
    let mut seen: Vec<String> = vec![];
    let mut after = Value::Null;
    loop {
        let page = app
            .gql(
                Some(&admin.access),
                AUDIT,
                json!({ "first": 2, "after": after }),
            )
            .await;
        for n in page["auditEvents"]["nodes"].as_array().unwrap() {
            seen.push(n["summary"].as_str().unwrap().to_string());
        }
        if !page["auditEvents"]["pageInfo"]["hasNextPage"]
            .as_bool()
            .unwrap()
        {
            break;
        }
        after = page["auditEvents"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len() as i64, total);
    assert_eq!(seen[0], "classifier: alias champion deleted");
}

#[tokio::test]
async fn only_admins_read_the_audit_log_and_the_system_status() {
    let app = TestApp::spawn().await;
    let (_, _admin) = app.user("admin").await;
    let (_, member) = app.user("member").await;
    for query in [
        "{ auditEvents { nodes { kind } } }",
        "{ systemStatus { version } }",
    ] {
        assert_eq!(
            app.gql_err(Some(&member.access), query, json!({})).await,
            "FORBIDDEN"
        );
        assert_eq!(app.gql_err(None, query, json!({})).await, "UNAUTHENTICATED");
    }
    let bad = app
        .gql_err(
            Some(&_admin.access),
            "{ auditEvents(filter: { userId: \"nope\" }) { nodes { kind } } }",
            json!({}),
        )
        .await;
    assert_eq!(bad, "BAD_USER_INPUT");
}

#[tokio::test]
async fn the_system_status_names_each_dependency_and_counts_what_is_stored() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.user("admin").await;
    let project = app.create_project(&admin.access, "p").await;
    let experiment = app.create_experiment(&admin.access, &project, "e").await;
    let run = app.create_run(&admin.access, &experiment, "r").await;
    let points: Vec<Value> = (0..25)
        .map(|i| json!({ "key": "loss", "value": 1.0 / (i as f64 + 1.0), "step": i }))
        .collect();
    app.log_metrics(&admin.access, &run, json!(points)).await;
    let data = app
        .gql(
            Some(&admin.access),
            "{ systemStatus { database cache cacheBackend objectStore objectStoreBackend version uptimeSeconds
               counts { users projects runs metricPoints artifacts pendingObjectDeletions } } }",
            json!({}),
        )
        .await;
    let s = &data["systemStatus"];
    assert_eq!(s["database"], "UP");
    assert_eq!(s["objectStore"], "UP");
    assert_eq!(s["objectStoreBackend"], "local-disk");
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert!(s["uptimeSeconds"].as_i64().unwrap() >= 0);
    assert_eq!(
        s["counts"],
        json!({ "users": 1, "projects": 1, "runs": 1, "metricPoints": 25, "artifacts": 0, "pendingObjectDeletions": 0 })
    );
}

#[tokio::test]
async fn the_registry_lists_models_across_the_projects_one_can_see() {
    let app = TestApp::spawn().await;
    let (_, admin) = app.user("admin").await;
    let (_, alice) = app.user("alice").await;
    let (_, bob) = app.user("bob").await;
    let a = app.create_project(&alice.access, "a").await;
    let b = app.create_project(&alice.access, "b").await;
    let hidden = app.create_project(&bob.access, "hidden").await;
    app.create_model(&alice.access, &a, "fraud-detector").await;
    app.create_model(&alice.access, &b, "churn-model").await;
    app.create_model(&bob.access, &hidden, "fraud-secret").await;
    let list = "query($s: String) { models(filter: { search: $s }) { totalCount nodes { name project { name } } } }";
    let names = |d: &Value| -> Vec<String> {
        d["models"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap().to_string())
            .collect()
    };
    let mine = app.gql(Some(&alice.access), list, json!({})).await;
    assert_eq!(names(&mine), ["fraud-detector", "churn-model"]);
    assert_eq!(mine["models"]["totalCount"], 2);
    let found = app
        .gql(Some(&alice.access), list, json!({ "s": "FRAUD" }))
        .await;
    assert_eq!(
        names(&found),
        ["fraud-detector"],
        "case-insensitive, never another's model"
    );
    let wildcard = app
        .gql(Some(&alice.access), list, json!({ "s": "%" }))
        .await;
    assert!(
        names(&wildcard).is_empty(),
        "LIKE wildcards are searched for literally"
    );
    let all = app
        .gql(Some(&admin.access), list, json!({ "s": "fraud" }))
        .await;
    assert_eq!(
        names(&all),
        ["fraud-detector", "fraud-secret"],
        "an ADMIN sees every project's"
    );
}

#[tokio::test]
async fn a_version_is_found_by_its_number() {
    let app = TestApp::spawn().await;
    let (_, s) = app.user("mlops").await;
    let project = app.create_project(&s.access, "p").await;
    let model = app.create_model(&s.access, &project, "m").await;
    app.create_version(&s.access, &model, None).await;
    let v2 = app.create_version(&s.access, &model, None).await;
    let q = "query($m: ID!, $n: Int!) { model(id: $m) { version(number: $n) { id version } } }";
    let found = app
        .gql(Some(&s.access), q, json!({ "m": model, "n": 2 }))
        .await;
    assert_eq!(found["model"]["version"]["id"], v2["id"]);
    let missing = app
        .gql(Some(&s.access), q, json!({ "m": model, "n": 3 }))
        .await;
    assert_eq!(missing["model"]["version"], Value::Null);
}

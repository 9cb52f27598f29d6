//! Principals kept between requests (`auth::credentials`): a caller's later requests cost no
//! credential statement, and every change to what the credential proves (made through the
//! API, or behind the server in SQL as another replica or an operator would) is honoured
//! at once on this server, and within moments when it comes through PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, error_code, unique_email};
use serde_json::json;

const ME: &str = "{ me { id } }";
/// How long a change made behind the server may take to reach it (PostgreSQL's
/// notification takes milliseconds; the bound is generous for a loaded test machine).
const WITHIN: Duration = Duration::from_secs(2);

/// Requests answered from a kept principal, and credentials read from the database.
fn counts(app: &TestApp) -> (u64, u64) {
    app.state.credentials.counts()
}

/// Polls `holds` until it is true; fails, saying `what`, after `WITHIN`.
async fn eventually<F, Fut>(what: &str, mut holds: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !holds().await {
        assert!(started.elapsed() < WITHIN, "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Repeats a read until one is answered from a kept principal (the server listens for
/// changes once it has started), so later assertions start from a kept principal.
async fn until_kept(app: &TestApp, token: &str) {
    eventually("the server never kept a principal", || async {
        let before = counts(app).0;
        app.gql(Some(token), ME, json!({})).await;
        counts(app).0 > before
    })
    .await;
}

/// Polls `{ me }` with `token` until it is refused as a bad token (HTTP 401).
async fn until_refused(app: &TestApp, token: &str) {
    eventually("still accepted after the change", || async {
        let (status, body) = app.gql_raw(Some(token), ME, json!({})).await;
        status == 401 && error_code(&body).as_deref() == Some("UNAUTHENTICATED")
    })
    .await;
}

async fn sql(app: &TestApp, statement: &str, user_id: &str) {
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .bind(uuid::Uuid::parse_str(user_id).unwrap())
        .execute(&app.state.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn later_requests_of_a_caller_read_no_credential() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("kept")).await;
    until_kept(&app, &session.access).await;
    let (kept, read) = counts(&app);
    for _ in 0..20 {
        app.gql(Some(&session.access), ME, json!({})).await;
    }
    assert_eq!(counts(&app), (kept + 20, read));

    // An API token's principal is kept the same way.
    let token = app.read_token(&session.access).await;
    app.gql(Some(&token), ME, json!({})).await;
    let (kept, read) = counts(&app);
    for _ in 0..20 {
        app.gql(Some(&token), ME, json!({})).await;
    }
    assert_eq!(counts(&app), (kept + 20, read));
}

#[tokio::test]
async fn changes_through_the_api_are_honoured_at_once() {
    let app = TestApp::spawn().await;
    let (_, owner) = app.user("owner").await;
    let (email, member) = app.user("member").await;
    let project = app.create_project(&owner.access, "p").await;
    app.add_member(&owner.access, &project, &email, "EDITOR")
        .await;
    let read = format!("{{ project(id: \"{project}\") {{ id myRole }} }}");
    until_kept(&app, &member.access).await;
    let data = app.gql(Some(&member.access), &read, json!({})).await;
    assert_eq!(data["project"]["myRole"], "EDITOR");

    // A role changed by the owner: the member's very next request sees it.
    app.gql(
        Some(&owner.access),
        "mutation($p: ID!, $u: ID!) { updateProjectMember(input: { projectId: $p, userId: $u, role: VIEWER }) { role } }",
        json!({ "p": project, "u": member.user_id }),
    )
    .await;
    let data = app.gql(Some(&member.access), &read, json!({})).await;
    assert_eq!(data["project"]["myRole"], "VIEWER");
    let refused = app
        .gql_err(
            Some(&member.access),
            "mutation($p: ID!) { createExperiment(input: { projectId: $p, name: \"e\" }) { id } }",
            json!({ "p": project }),
        )
        .await;
    assert_eq!(refused, "FORBIDDEN");

    // Removed from the project: it is gone for them at once.
    until_kept(&app, &member.access).await;
    app.gql(
        Some(&owner.access),
        "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) }",
        json!({ "p": project, "u": member.user_id }),
    )
    .await;
    let data = app.gql(Some(&member.access), &read, json!({})).await;
    assert!(data["project"].is_null(), "{data}");

    // Logged out: the next request is refused.
    until_kept(&app, &member.access).await;
    app.gql(Some(&member.access), "mutation { logout }", json!({}))
        .await;
    let (status, _) = app.gql_raw(Some(&member.access), ME, json!({})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn changes_made_behind_the_server_reach_it_within_moments() {
    let app = TestApp::spawn().await;
    let (_, owner) = app.user("owner").await;
    let (email, member) = app.user("member").await;
    let project = app.create_project(&owner.access, "p").await;
    app.add_member(&owner.access, &project, &email, "VIEWER")
        .await;
    let read = format!("{{ project(id: \"{project}\") {{ id }} }}");

    // A membership deleted in SQL (another replica, an operator): the project disappears.
    until_kept(&app, &member.access).await;
    sql(
        &app,
        "DELETE FROM project_members WHERE user_id = $1",
        &member.user_id,
    )
    .await;
    eventually("the removed member still sees the project", || async {
        let data = app.gql(Some(&member.access), &read, json!({})).await;
        data["project"].is_null()
    })
    .await;

    // An account disabled in SQL: its tokens stop.
    until_kept(&app, &member.access).await;
    sql(
        &app,
        "UPDATE users SET disabled = true WHERE id = $1",
        &member.user_id,
    )
    .await;
    until_refused(&app, &member.access).await;

    // A session revoked in SQL, and an API token revoked in SQL.
    let token = app.read_token(&owner.access).await;
    until_kept(&app, &token).await;
    until_kept(&app, &owner.access).await;
    sql(
        &app,
        "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1",
        &owner.user_id,
    )
    .await;
    until_refused(&app, &token).await;
    app.gql(Some(&owner.access), ME, json!({})).await;
    sql(
        &app,
        "UPDATE sessions SET revoked_at = now() WHERE user_id = $1",
        &owner.user_id,
    )
    .await;
    until_refused(&app, &owner.access).await;
}

#[tokio::test]
async fn nothing_is_kept_while_the_listener_is_cut_off() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("cut")).await;
    until_kept(&app, &session.access).await;
    assert!(app.state.credentials.kept_count() > 0);

    // Its connection killed: what was kept is forgotten (a change made while nobody
    // listened could otherwise never be heard of).
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    assert_eq!(killed, vec![true], "one listening connection");
    eventually("kept principals outlived the listener", || async {
        app.state.credentials.kept_count() == 0
    })
    .await;
    // It listens again by itself, and keeps principals again.
    until_kept(&app, &session.access).await;
    sql(
        &app,
        "UPDATE sessions SET revoked_at = now() WHERE user_id = $1",
        &session.user_id,
    )
    .await;
    until_refused(&app, &session.access).await;
}

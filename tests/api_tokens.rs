//! API tokens for CI: created once, scoped, revocable, stored only as hashes.

mod common;

use common::{TestApp, unique_email};
use serde_json::{Value, json};

const CREATE: &str = "mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token apiToken { id name scopes } } }";

async fn create(app: &TestApp, access: &str, scopes: &[&str]) -> (String, String) {
    let data = app
        .gql(
            Some(access),
            CREATE,
            json!({ "i": { "name": "ci", "scopes": scopes } }),
        )
        .await;
    let token = data["createApiToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let id = data["createApiToken"]["apiToken"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    (token, id)
}

#[tokio::test]
async fn a_token_is_shown_once_with_a_recognisable_prefix() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("ci")).await;
    let (token, id) = create(&app, &session.access, &["READ"]).await;
    assert!(token.starts_with("mst_"));
    let listed = app
        .gql(
            Some(&session.access),
            "{ apiTokens { id name scopes lastUsedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["apiTokens"][0]["id"], id.as_str());
    assert!(
        !listed.to_string().contains(&token),
        "the secret is never listed"
    );
}

#[tokio::test]
async fn a_read_token_reads_but_cannot_mutate() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("ci")).await;
    let (token, _) = create(&app, &session.access, &["READ"]).await;
    let me = app.gql(Some(&token), "{ me { id } }", json!({})).await;
    assert_eq!(me["me"]["id"], session.user_id.as_str());
    let code = app
        .gql_err(
            Some(&token),
            "mutation { revokeApiToken(id: \"00000000-0000-0000-0000-000000000000\") }",
            json!({}),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
}

#[tokio::test]
async fn a_write_token_runs_mutations_but_cannot_mint_tokens() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("ci")).await;
    let (token, id) = create(&app, &session.access, &["READ", "WRITE"]).await;
    let code = app
        .gql_err(
            Some(&token),
            CREATE,
            json!({ "i": { "name": "x", "scopes": ["READ"] } }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
    let done = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { revokeApiToken(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(done["revokeApiToken"], true);
}

#[tokio::test]
async fn a_revoked_token_stops_working_at_once() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("ci")).await;
    let (token, id) = create(&app, &session.access, &["READ"]).await;
    app.gql(
        Some(&session.access),
        "mutation($id: ID!) { revokeApiToken(id: $id) }",
        json!({ "id": id }),
    )
    .await;
    let (status, body) = app.gql_raw(Some(&token), "{ me { id } }", json!({})).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("ci")).await;
    let data = app
        .gql(
            Some(&session.access),
            CREATE,
            json!({ "i": { "name": "short", "scopes": ["READ"], "expiresAt": (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339() } }),
        )
        .await;
    let token = data["createApiToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql(Some(&token), "{ me { id } }", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (status, _) = app.gql_raw(Some(&token), "{ me { id } }", json!({})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn token_input_is_checked() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("ci")).await;
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    for (input, field) in [
        (json!({ "name": "x", "scopes": [] }), "scopes"),
        (json!({ "name": "  ", "scopes": ["READ"] }), "name"),
        (
            json!({ "name": "x", "scopes": ["READ"], "expiresAt": past }),
            "expiresAt",
        ),
    ] {
        let (_, body) = app
            .gql_raw(Some(&session.access), CREATE, json!({ "i": input }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
}

async fn last_used_at(app: &TestApp, access: &str) -> Value {
    let listed = app
        .gql(Some(access), "{ apiTokens { lastUsedAt } }", json!({}))
        .await;
    listed["apiTokens"][0]["lastUsedAt"].clone()
}

/// Recording every use would make each call of a CI job a write to one row, which its
/// concurrent calls wait on: a use is recorded when the last one is a minute old or more
/// and the token is read from the database (not answered from a kept principal).
#[tokio::test]
async fn a_tokens_use_is_recorded_at_most_once_a_minute() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("ci")).await;
    let (token, id) = create(&app, &session.access, &["READ"]).await;
    assert!(last_used_at(&app, &session.access).await.is_null());

    app.gql(Some(&token), "{ me { id } }", json!({})).await;
    let first = last_used_at(&app, &session.access).await;
    assert!(first.is_string(), "the first use is recorded: {first}");
    app.gql(Some(&token), "{ me { id } }", json!({})).await;
    assert_eq!(last_used_at(&app, &session.access).await, first);

    sqlx::query("UPDATE api_tokens SET last_used_at = now() - interval '2 minutes' WHERE id = $1")
        .bind(uuid::Uuid::parse_str(&id).unwrap())
        .execute(&app.state.db)
        .await
        .unwrap();
    let aged = last_used_at(&app, &session.access).await;
    // The token's principal is kept for up to `credentials::MAX_AGE` after it was read; the
    // use is recorded when it is read again. Forgetting it stands for that wait.
    app.state.credentials.forget_all();
    app.gql(Some(&token), "{ me { id } }", json!({})).await;
    let again = last_used_at(&app, &session.access).await;
    assert!(
        again.as_str() > aged.as_str(),
        "a use a minute after the last recorded one is recorded: {aged} then {again}"
    );
}

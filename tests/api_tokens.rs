//! API tokens for CI: created once, scoped, revocable, stored only as hashes.

mod common;

use common::{TestApp, unique_email};
use serde_json::json;

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

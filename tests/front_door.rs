//! What a new user meets first: mistakes answered with a sentence saying what to do.

mod common;

use std::process::Command;

use common::processes::free_port;
use common::{TestApp, error_code, unique_email};
use serde_json::Value;

#[tokio::test]
async fn get_without_a_query_says_what_to_send() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body).as_deref(), Some("BAD_USER_INPUT"));
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("query=") && message.contains("POST"),
        "{message}"
    );
}

#[tokio::test]
async fn a_token_without_the_bearer_scheme_is_told_the_header_format() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("scheme")).await;
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", &session.access)
        .json(&serde_json::json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("Bearer <token>"), "{message}");
}

/// Runs `maestro serve` with `env` until it exits; returns its exit code and stderr.
fn serve_fails(env: &[(&str, String)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_maestro"));
    cmd.arg("serve")
        .env("RUST_LOG", "off")
        .env_remove("RUST_BACKTRACE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn startup_failures_print_one_sentence_naming_the_setting_and_exit_non_zero() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, stderr) = serve_fails(&[("MAESTRO_LISTEN", addr.clone())]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&addr) && stderr.contains("MAESTRO_LISTEN"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");

    let nowhere = format!("postgres://postgres@127.0.0.1:{}/maestro", free_port());
    let (code, stderr) = serve_fails(&[
        ("MAESTRO_LISTEN", "127.0.0.1:0".into()),
        ("DATABASE_URL", nowhere),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
}

#[tokio::test]
async fn a_document_that_does_not_parse_is_answered_with_a_sentence() {
    let app = TestApp::spawn().await;
    let (_, body) = app
        .gql_raw(None, "{ me { id }", serde_json::json!({}))
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "the query does not parse at line 1, column 12: expected a field name or `}`"
    );
    assert_eq!(body["errors"][0]["locations"][0]["column"], 12);
    let (_, body) = app.gql_raw(None, "", serde_json::json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("the query is empty"), "{message}");
}

#[tokio::test]
async fn every_route_answers_with_a_request_id_and_keeps_the_clients() {
    let app = TestApp::spawn().await;
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/graphql?query=%7B__typename%7D",
    ] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        let id = resp.headers()["x-request-id"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{path}: {id}");
    }
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-me-42");
}

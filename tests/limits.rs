//! Abuse limits: body size, depth, aliases, batches, media types, methods, login rates.

mod common;

use std::net::IpAddr;

use common::{PASSWORD, TestApp, error_code, unique_email};
use serde_json::{Value, json};

async fn post_raw(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_body_over_one_mebibyte_gets_413() {
    let app = TestApp::spawn().await;
    let padding = " ".repeat(1024 * 1024);
    let body = format!("{{\"query\": \"{{ __typename }}{padding}\"}}");
    let (status, body) = post_raw(&app, "application/json", body).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(error_code(&body).as_deref(), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn malformed_json_gets_400() {
    let app = TestApp::spawn().await;
    let (status, body) = post_raw(&app, "application/json", "{\"query\": ").await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body).as_deref(), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn batched_requests_are_refused() {
    let app = TestApp::spawn().await;
    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }]).to_string();
    let (status, body) = post_raw(&app, "application/json", batch).await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("batched")
    );
}

#[tokio::test]
async fn only_json_bodies_are_accepted_so_forms_cannot_be_forged_cross_site() {
    let app = TestApp::spawn().await;
    let query = json!({ "query": "{ __typename }" }).to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin1",
    ] {
        let (status, _) = post_raw(&app, content_type, query.clone()).await;
        assert_eq!(status, 415, "{content_type}");
    }
    let (status, _) = post_raw(&app, "application/json; charset=utf-8", query).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn get_runs_queries_but_never_mutations() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(app.url("/graphql?query=%7B__typename%7D"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = app
        .client
        .get(app.url("/graphql?query=mutation%7Blogout%7D"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
}

#[tokio::test]
async fn queries_deeper_than_twelve_are_refused() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("deep")).await;
    // Thirteen levels of fields (introspection has its own, larger limit).
    let deep = "{ projects { edges { node { experiments { edges { node { runs { edges { node { experiment { project { experiments { totalCount } } } } } } } } } } } } }";
    let (_, body) = app.gql_raw(Some(&session.access), deep, json!({})).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("too deep"),
        "{body}"
    );
    assert!(error_code(&body).is_some());
}

#[tokio::test]
async fn too_many_aliases_are_refused() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("alias")).await;
    let many: String = (0..31).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let (_, body) = app
        .gql_raw(Some(&session.access), &format!("{{ {many} }}"), json!({}))
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("aliases")
    );
    let few: String = (0..30).map(|i| format!("a{i}: me {{ id }} ")).collect();
    app.gql(Some(&session.access), &format!("{{ {few} }}"), json!({}))
        .await;
}

#[tokio::test]
async fn failed_logins_are_limited_per_account() {
    let app = TestApp::spawn().await;
    let email = unique_email("target");
    app.register(&email).await;
    for _ in 0..10 {
        let (_, body) = app.login(&email, "wrong password!!").await;
        assert_eq!(error_code(&body).as_deref(), Some("UNAUTHENTICATED"));
    }
    let (_, body) = app.login(&email, PASSWORD).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("RATE_LIMITED"),
        "even the right password waits: {body}"
    );
    let retry = body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
}

#[tokio::test]
async fn failed_logins_are_limited_per_address_and_a_success_elsewhere_resets_nothing() {
    let app = TestApp::spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.login_failures_per_address = 3;
    })
    .await;
    let attacker: IpAddr = "203.0.113.7".parse().unwrap();
    let user: IpAddr = "198.51.100.2".parse().unwrap();
    let email = unique_email("victim");
    app.register(&email).await;
    for i in 0..3 {
        let body = app
            .login_from(
                attacker,
                &unique_email(&format!("spray{i}")),
                "guess guess guess",
            )
            .await;
        assert_eq!(error_code(&body).as_deref(), Some("UNAUTHENTICATED"));
    }
    let body = app.login_from(attacker, &email, PASSWORD).await;
    assert_eq!(error_code(&body).as_deref(), Some("RATE_LIMITED"));
    assert!(
        body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            > 0
    );

    let body = app.login_from(user, &email, PASSWORD).await;
    assert!(
        body["data"]["login"]["accessToken"].is_string(),
        "another address is not limited: {body}"
    );
    let body = app.login_from(attacker, &email, PASSWORD).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("RATE_LIMITED"),
        "the success elsewhere reset nothing"
    );
}

#[tokio::test]
async fn an_untrusted_peer_cannot_dodge_the_limit_with_x_forwarded_for() {
    let app = TestApp::spawn_with(|c| c.login_failures_per_address = 2).await;
    for i in 0..2 {
        let fake: IpAddr = format!("192.0.2.{i}").parse().unwrap();
        app.login_from(fake, &unique_email("spray"), "guess guess guess")
            .await;
    }
    let body = app
        .login_from(
            "192.0.2.99".parse().unwrap(),
            &unique_email("spray"),
            "guess guess guess",
        )
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("RATE_LIMITED"));
}

#[tokio::test]
async fn limits_hold_without_redis_too() {
    let app = TestApp::spawn_with(|c| {
        c.redis_url = None;
        c.login_failures_per_account = 2;
    })
    .await;
    let email = unique_email("memory");
    app.register(&email).await;
    app.login(&email, "wrong password!!").await;
    app.login(&email, "wrong password!!").await;
    let (_, body) = app.login(&email, PASSWORD).await;
    assert_eq!(error_code(&body).as_deref(), Some("RATE_LIMITED"));
}

#[tokio::test]
async fn registration_can_be_limited_per_address() {
    let app = TestApp::spawn_with(|c| c.registrations_per_address = 2).await;
    app.register(&unique_email("r1")).await;
    app.register(&unique_email("r2")).await;
    let code = app
        .gql_err(
            None,
            "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
            json!({ "i": { "email": unique_email("r3"), "password": PASSWORD, "name": "X" } }),
        )
        .await;
    assert_eq!(code, "RATE_LIMITED");
}

#[tokio::test]
async fn health_and_readiness_name_each_dependency() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["checks"]["database"]["status"], "up");
    assert_eq!(body["checks"]["cache"]["status"], "up");
    assert_eq!(body["checks"]["cache"]["backend"], "redis");
}

#[tokio::test]
async fn metrics_count_responses_errors_and_latencies_in_prometheus_format() {
    let app = TestApp::spawn().await;
    app.login(&unique_email("nobody"), "wrong password!!").await;
    let (status, _) = app.gql_raw(None, "{ me { id } }", json!({})).await;
    assert_eq!(status, 401);
    let (status, _) = app
        .gql_raw(None, "query Version { __typename }", json!({}))
        .await;
    assert_eq!(status, 200);
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = resp.text().await.unwrap();
    let value = |line_start: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{line_start} missing in {text}"))
    };
    // Each server counts its own requests: exactly what this test caused.
    assert_eq!(value("maestro_graphql_responses_total{status=\"401\"}"), 1);
    assert_eq!(value("maestro_graphql_responses_total{status=\"200\"}"), 2);
    assert_eq!(
        value("maestro_graphql_errors_total{code=\"UNAUTHENTICATED\"}"),
        2
    );
    assert_eq!(value("maestro_login_failures_total"), 1);
    assert_eq!(
        value(
            "maestro_graphql_operation_duration_seconds_count{kind=\"query\",operation=\"Version\"}"
        ),
        1
    );
    assert_eq!(
        value(
            "maestro_graphql_operation_duration_seconds_count{kind=\"mutation\",operation=\"anonymous\"}"
        ),
        1,
        "the failed login"
    );
    assert_eq!(
        value(
            "maestro_http_request_duration_seconds_count{route=\"/graphql\",method=\"POST\",status=\"401\"}"
        ),
        1
    );
    assert_eq!(value("maestro_db_up"), 1);
    assert_eq!(value("maestro_cache_up"), 1);
    assert!(
        value("maestro_db_connections{state=\"idle\"}")
            + value("maestro_db_connections{state=\"in_use\"}")
            >= 1
    );
    assert_eq!(value("maestro_password_hashing_queued"), 0);
    assert_eq!(value("maestro_object_store_up"), 1);
    assert_eq!(value("maestro_storage_deletions_pending"), 0);
}

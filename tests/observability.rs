//! The example alert rules and the Grafana dashboard in `deploy/` name only figures that
//! `/metrics` really serves, so a renamed metric cannot silently blind them.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use common::processes::MaestroProcess;
use common::{TestApp, unique_email};
use serde_json::json;

/// Every `maestro_…` metric name in a text, without the suffixes Prometheus derives from
/// a histogram (`_bucket`, `_count`, `_sum`).
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("maestro_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        out.insert(base.to_string());
        rest = &tail[end..];
    }
    out
}

#[tokio::test]
async fn alert_rules_and_dashboard_use_only_served_metrics() {
    let app = TestApp::spawn().await;
    // One of each kind of event, so every family has a sample.
    app.gql_raw(None, "query Probe { __typename }", json!({}))
        .await;
    app.gql_raw(None, "{ me { id } }", json!({})).await;
    let served = names_in(&app.metrics_text().await);
    let root = env!("CARGO_MANIFEST_DIR");
    for file in [
        "deploy/prometheus/alerts.yml",
        "deploy/grafana/maestro.json",
    ] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        let used = names_in(&text);
        assert!(used.len() >= 5, "{file} names too few metrics: {used:?}");
        let unknown: Vec<_> = used.difference(&served).collect();
        assert!(
            unknown.is_empty(),
            "{file} uses metrics /metrics does not serve: {unknown:?}\nserved: {served:?}"
        );
    }
}

#[test]
fn the_name_scan_sees_histogram_series_as_their_family() {
    let names = names_in("rate(maestro_x_seconds_bucket[5m]) + maestro_y_total");
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["maestro_x_seconds", "maestro_y_total"]
    );
}

/// What an OTLP collector received: the bodies posted to `/v1/traces`.
type Received = Arc<Mutex<Vec<Bytes>>>;

async fn collector() -> (String, Received) {
    async fn traces(State(received): State<Received>, body: Bytes) -> &'static str {
        received.lock().unwrap().push(body);
        ""
    }
    let received = Received::default();
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// Whether any exported batch contains these bytes (span names and attribute keys are
/// plain UTF-8 inside the protobuf).
fn exported(received: &Received, needle: &str) -> bool {
    received
        .lock()
        .unwrap()
        .iter()
        .any(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

#[tokio::test]
async fn traces_go_to_the_otlp_collector_with_request_resolver_and_database_spans() {
    // The in-process app creates and migrates the database; a real process exports.
    let setup = TestApp::spawn().await;
    let (endpoint, received) = collector().await;
    let process = MaestroProcess::start(
        &setup.database_url,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SERVICE_NAME", "maestro-under-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let app = setup.pointed_at(process.addr);
    let session = app.register(&unique_email("otlp")).await;
    app.gql(Some(&session.access), "{ me { id email } }", json!({}))
        .await;

    let wanted = [
        "maestro-under-test",   // the service name
        "request",              // the HTTP request (tower-http span)
        "graphql",              // the GraphQL operation
        "field",                // a resolved field (async-graphql)
        "find_by_live_session", // a database call: the token's session
        "db.statement",         // the SQL statement inside it (sqlx)
    ];
    for _ in 0..100 {
        if wanted.iter().all(|w| exported(&received, w)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(process);
    let missing: Vec<_> = wanted.iter().filter(|w| !exported(&received, w)).collect();
    assert!(
        missing.is_empty(),
        "not exported: {missing:?} ({} batches received)",
        received.lock().unwrap().len()
    );
}

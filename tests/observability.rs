//! The example alert rules and the Grafana dashboard in `deploy/` name only figures that
//! `/metrics` really serves, so a renamed metric cannot silently blind them.

mod common;

use std::collections::BTreeSet;

use common::TestApp;
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
    let served = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let served = names_in(&served);
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

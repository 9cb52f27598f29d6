//! What the process counts as it serves: request latencies per route and per GraphQL
//! operation, responses by status, errors by code, failed sign-ins, live WebSocket
//! connections and subscriptions. Held in the application state (one set per server) and
//! written out by `http::metrics`, which adds the figures read at scrape time (pool, cache,
//! store). Only aggregate counts: nothing here identifies a user, a token or a project.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Distinct GraphQL operation names given their own series; later names count as
/// `OTHER_OPERATION`, so clients cannot grow the process's memory by naming operations.
pub const MAX_OPERATION_NAMES: usize = 200;
/// Longest operation name given its own series.
pub const MAX_OPERATION_NAME_CHARS: usize = 64;
/// The series of operations without a name.
pub const ANONYMOUS_OPERATION: &str = "anonymous";
/// The series of names past `MAX_OPERATION_NAMES` (or too long).
pub const OTHER_OPERATION: &str = "other";

/// The labels of one HTTP route's latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route's pattern (`/graphql`, `/storage/{*key}`), or `unmatched`.
    pub route: String,
    pub method: String,
    pub status: u16,
}

/// The labels of one GraphQL operation's latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// `query`, `mutation`, `subscription`, or `refused` when it never ran.
    pub kind: &'static str,
    /// The operation's name, `anonymous`, or `other` (see `MAX_OPERATION_NAMES`).
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: String,
}

/// The process's counters and latency histograms; cheap to clone (all clones count into
/// the same figures).
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    routes: Family<RouteLabels, Histogram>,
    operations: Family<OperationLabels, Histogram>,
    responses: Family<StatusLabel, Counter>,
    errors: Family<CodeLabel, Counter>,
    login_failures: Counter,
    ws_connections: Gauge,
    subscriptions: Gauge,
    operation_names: Mutex<HashSet<String>>,
    started: Instant,
}

/// Latency buckets from 0.5 ms to about 8 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let routes = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let operations = Family::<OperationLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let responses = Family::<StatusLabel, Counter>::default();
        let errors = Family::<CodeLabel, Counter>::default();
        let login_failures = Counter::default();
        let ws_connections = Gauge::default();
        let subscriptions = Gauge::default();

        let mut registry = Registry::with_prefix("maestro");
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route, method and status.",
            routes.clone(),
        );
        registry.register(
            "graphql_operation_duration_seconds",
            "Time to run a GraphQL operation over HTTP, by kind and operation name.",
            operations.clone(),
        );
        registry.register(
            "graphql_responses",
            "GraphQL responses by HTTP status.",
            responses.clone(),
        );
        registry.register(
            "graphql_errors",
            "GraphQL errors by extensions.code.",
            errors.clone(),
        );
        registry.register("login_failures", "Failed sign-ins.", login_failures.clone());
        registry.register(
            "ws_connections",
            "Open GraphQL WebSocket connections.",
            ws_connections.clone(),
        );
        registry.register(
            "subscriptions",
            "Running GraphQL subscriptions.",
            subscriptions.clone(),
        );
        Metrics(Arc::new(Inner {
            registry,
            routes,
            operations,
            responses,
            errors,
            login_failures,
            ws_connections,
            subscriptions,
            operation_names: Mutex::default(),
            started: Instant::now(),
        }))
    }
}

impl Metrics {
    /// The registry to encode (the request-time figures).
    pub fn registry(&self) -> &Registry {
        &self.0.registry
    }

    /// How long ago these figures started counting.
    pub fn uptime(&self) -> Duration {
        self.0.started.elapsed()
    }

    /// One HTTP request answered.
    pub fn route(&self, labels: &RouteLabels, took: Duration) {
        self.0
            .routes
            .get_or_create(labels)
            .observe(took.as_secs_f64());
    }

    /// One GraphQL operation answered over HTTP.
    pub fn operation(&self, kind: &'static str, name: Option<&str>, took: Duration) {
        let labels = OperationLabels {
            kind,
            operation: self.operation_label(name),
        };
        self.0
            .operations
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// The series an operation name counts in: its own for the first
    /// `MAX_OPERATION_NAMES` well-formed names, `other` after.
    fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return ANONYMOUS_OPERATION.to_string();
        };
        let well_formed = !name.is_empty()
            && name.len() <= MAX_OPERATION_NAME_CHARS
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !well_formed {
            return OTHER_OPERATION.to_string();
        }
        let mut names = self
            .0
            .operation_names
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if names.contains(name) {
            return name.to_string();
        }
        if names.len() >= MAX_OPERATION_NAMES {
            return OTHER_OPERATION.to_string();
        }
        names.insert(name.to_string());
        name.to_string()
    }

    /// Counts one GraphQL response by HTTP status.
    pub fn response(&self, status: u16) {
        self.0
            .responses
            .get_or_create(&StatusLabel { status })
            .inc();
    }

    /// Counts one GraphQL error by its `extensions.code`.
    pub fn error(&self, code: &str) {
        self.0
            .errors
            .get_or_create(&CodeLabel {
                code: code.to_string(),
            })
            .inc();
    }

    pub fn login_failure(&self) {
        self.0.login_failures.inc();
    }

    /// A WebSocket connection opened (+1) or closed (-1).
    pub fn ws_connection(&self, delta: i64) {
        self.0.ws_connections.inc_by(delta);
    }

    /// A subscription started (+1) or ended (-1).
    pub fn subscription(&self, delta: i64) {
        self.0.subscriptions.inc_by(delta);
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    fn text(m: &Metrics) -> String {
        let mut out = String::new();
        encode(&mut out, m.registry()).unwrap();
        out
    }

    #[test]
    fn operation_names_are_bounded_and_sanitized() {
        let m = Metrics::default();
        assert_eq!(m.operation_label(None), ANONYMOUS_OPERATION);
        assert_eq!(m.operation_label(Some("Runs")), "Runs");
        assert_eq!(m.operation_label(Some("drop table;")), OTHER_OPERATION);
        assert_eq!(m.operation_label(Some(&"x".repeat(65))), OTHER_OPERATION);
        for i in 1..MAX_OPERATION_NAMES {
            assert_eq!(m.operation_label(Some(&format!("Op{i}"))), format!("Op{i}"));
        }
        assert_eq!(m.operation_label(Some("OneTooMany")), OTHER_OPERATION);
        assert_eq!(
            m.operation_label(Some("Runs")),
            "Runs",
            "known names keep theirs"
        );
    }

    #[test]
    fn figures_are_written_in_prometheus_text() {
        let m = Metrics::default();
        m.response(401);
        m.response(401);
        m.error("UNAUTHENTICATED");
        m.operation("query", Some("Me"), Duration::from_millis(3));
        m.subscription(1);
        let out = text(&m);
        assert!(
            out.contains("maestro_graphql_responses_total{status=\"401\"} 2"),
            "{out}"
        );
        assert!(out.contains("maestro_graphql_errors_total{code=\"UNAUTHENTICATED\"} 1"));
        assert!(out.contains(
            "maestro_graphql_operation_duration_seconds_count{kind=\"query\",operation=\"Me\"} 1"
        ));
        assert!(out.contains("maestro_subscriptions 1"));
    }
}

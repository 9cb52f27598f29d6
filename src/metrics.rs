//! Process counters in Prometheus text format, served at `GET /metrics`. Only aggregate
//! counts: nothing here identifies a user, a token or a project.

use std::fmt::Write;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::error::code;
use crate::state::AppState;

/// HTTP statuses the GraphQL endpoint answers with, counted one by one.
const STATUSES: [u16; 9] = [200, 400, 401, 405, 413, 415, 503, 500, 0];
/// Error codes counted (the SPEC's stable `extensions.code` values).
const CODES: [&str; 8] = [
    code::UNAUTHENTICATED,
    code::FORBIDDEN,
    code::NOT_FOUND,
    code::BAD_USER_INPUT,
    code::CONFLICT,
    code::RATE_LIMITED,
    code::SERVICE_UNAVAILABLE,
    code::INTERNAL_SERVER_ERROR,
];

pub struct Counters {
    responses: [AtomicU64; STATUSES.len()],
    errors: [AtomicU64; CODES.len()],
    login_failures: AtomicU64,
    hashing_refused: AtomicU64,
    cache_fallbacks: AtomicU64,
    ws_connections: AtomicI64,
    subscriptions: AtomicI64,
}

pub static COUNTERS: LazyLock<Counters> = LazyLock::new(|| Counters {
    responses: Default::default(),
    errors: Default::default(),
    login_failures: AtomicU64::new(0),
    hashing_refused: AtomicU64::new(0),
    cache_fallbacks: AtomicU64::new(0),
    ws_connections: AtomicI64::new(0),
    subscriptions: AtomicI64::new(0),
});

impl Counters {
    /// Counts one GraphQL response by HTTP status (unlisted statuses count as 0).
    pub fn response(&self, status: u16) {
        let i = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len() - 1);
        self.responses[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one GraphQL error by its `extensions.code`.
    pub fn error(&self, error_code: &str) {
        if let Some(i) = CODES.iter().position(|c| *c == error_code) {
            self.errors[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn login_failure(&self) {
        self.login_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A sign-in or password change refused because the hashing queue was full.
    pub fn hashing_refused(&self) {
        self.hashing_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// A WebSocket connection opened (+1) or closed (-1).
    pub fn ws_connection(&self, delta: i64) {
        self.ws_connections.fetch_add(delta, Ordering::Relaxed);
    }

    /// A subscription started (+1) or ended (-1).
    pub fn subscription(&self, delta: i64) {
        self.subscriptions.fetch_add(delta, Ordering::Relaxed);
    }

    /// A cache call served by the in-process fallback because Redis failed or was bypassed.
    pub fn cache_fallback(&self) {
        self.cache_fallbacks.fetch_add(1, Ordering::Relaxed);
    }
}

/// Writes one metric family: its help, its type and one sample per label set (an empty
/// label set is written without braces).
fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, i64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// `GET /metrics`.
pub async fn serve(State(state): State<AppState>) -> impl IntoResponse {
    let c = &*COUNTERS;
    let mut out = String::new();
    let load = |n: &AtomicU64| n.load(Ordering::Relaxed) as i64;
    let responses: Vec<(String, i64)> = STATUSES
        .iter()
        .zip(&c.responses)
        .map(|(status, n)| (format!("status=\"{status}\""), load(n)))
        .collect();
    metric(
        &mut out,
        "maestro_graphql_responses_total",
        "counter",
        "GraphQL responses by HTTP status (0: other).",
        &responses,
    );
    let errors: Vec<(String, i64)> = CODES
        .iter()
        .zip(&c.errors)
        .map(|(code, n)| (format!("code=\"{code}\""), load(n)))
        .collect();
    metric(
        &mut out,
        "maestro_graphql_errors_total",
        "counter",
        "GraphQL errors by extensions.code.",
        &errors,
    );
    let single = |value: i64| vec![(String::new(), value)];
    metric(
        &mut out,
        "maestro_login_failures_total",
        "counter",
        "Failed sign-ins.",
        &single(load(&c.login_failures)),
    );
    metric(
        &mut out,
        "maestro_password_hashing_refused_total",
        "counter",
        "Sign-ins refused because the hashing queue was full.",
        &single(load(&c.hashing_refused)),
    );
    metric(
        &mut out,
        "maestro_cache_fallbacks_total",
        "counter",
        "Cache calls served in-process because Redis failed or its breaker was open.",
        &single(load(&c.cache_fallbacks)),
    );
    metric(
        &mut out,
        "maestro_ws_connections",
        "gauge",
        "Open GraphQL WebSocket connections.",
        &single(c.ws_connections.load(Ordering::Relaxed)),
    );
    metric(
        &mut out,
        "maestro_subscriptions",
        "gauge",
        "Running GraphQL subscriptions.",
        &single(c.subscriptions.load(Ordering::Relaxed)),
    );
    let pool = vec![
        ("state=\"open\"".to_string(), i64::from(state.db.size())),
        ("state=\"idle\"".to_string(), state.db.num_idle() as i64),
    ];
    metric(
        &mut out,
        "maestro_db_connections",
        "gauge",
        "Database pool connections (in use and idle).",
        &pool,
    );
    let pending: Option<i64> = sqlx::query_scalar("SELECT count(*) FROM storage_deletions")
        .fetch_one(&state.db)
        .await
        .ok();
    if let Some(pending) = pending {
        metric(
            &mut out,
            "maestro_storage_deletions_pending",
            "gauge",
            "Objects queued for deletion from the store.",
            &single(pending),
        );
    }
    metric(
        &mut out,
        "maestro_object_store_up",
        "gauge",
        "Whether the object store answered its last probe.",
        &single(i64::from(state.storage.seems_healthy())),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

//! `GET /metrics`: the counters and histograms of `crate::metrics`, then the figures read
//! at scrape time (database pool, cache, password hashing, object store), in the
//! OpenMetrics text format Prometheus scrapes.

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::time::Instant;

use crate::auth::hasher;
use crate::cache::CacheHealth;
use crate::http::graphql::ErrorCodes;
use crate::metrics::{Metrics, RouteLabels};
use crate::state::AppState;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

fn gauge(value: i64) -> Gauge {
    let g = Gauge::default();
    g.set(value);
    g
}

fn counter(value: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(value);
    c
}

/// `GET /metrics`.
pub async fn serve(State(state): State<AppState>) -> Response {
    let mut now = Registry::with_prefix("maestro");
    let pool = Family::<StateLabel, Gauge>::default();
    let open = i64::from(state.db.size());
    let idle = state.db.num_idle() as i64;
    pool.get_or_create(&StateLabel { state: "in_use" })
        .set(open - idle);
    pool.get_or_create(&StateLabel { state: "idle" }).set(idle);
    now.register(
        "db_connections",
        "Database pool connections, in use and idle.",
        pool,
    );
    now.register(
        "db_connections_max",
        "The database pool's size limit (MAESTRO_DB_POOL_SIZE).",
        gauge(i64::from(state.db.max_size())),
    );
    now.register(
        "db_up",
        "Whether the database answered its last health check.",
        gauge(i64::from(!state.db_health.is_down())),
    );
    let (kept_answers, credential_reads) = state.credentials.counts();
    now.register(
        "credential_reads",
        "Credentials (session or API token, with the user and their roles) read from the database.",
        counter(credential_reads),
    );
    now.register(
        "credential_kept_answers",
        "Requests whose principal was kept from an earlier read, at no statement.",
        counter(kept_answers),
    );
    now.register(
        "credentials_kept",
        "Principals kept now (none while the credential-change listener is down).",
        gauge(state.credentials.kept_count() as i64),
    );
    let cache = state.cache.stats();
    now.register(
        "cache_up",
        "Whether the cache answers (0: Redis failed and in-process fallbacks serve).",
        gauge(i64::from(state.cache.health_now() == CacheHealth::Up)),
    );
    now.register("cache_calls", "Calls made to Redis.", counter(cache.calls));
    now.register(
        "cache_fallbacks",
        "Cache calls served in-process because Redis failed or its breaker was open.",
        counter(cache.fallbacks),
    );
    let hashing = hasher::stats();
    now.register(
        "password_hashing_queued",
        "Password hashes waiting or running.",
        gauge(hashing.queued as i64),
    );
    now.register(
        "password_hashing_refused",
        "Sign-ins refused because the hashing queue was full.",
        counter(hashing.refused),
    );
    now.register(
        "object_store_up",
        "Whether the object store answered its last probe.",
        gauge(i64::from(state.storage.seems_healthy())),
    );
    let pending: Option<i64> =
        sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM storage_deletions"#,)
            .fetch_one(&state.db)
            .await
            .ok();
    if let Some(pending) = pending {
        now.register(
            "storage_deletions_pending",
            "Objects queued for deletion from the store.",
            gauge(pending),
        );
    }
    now.register(
        "uptime_seconds",
        "Seconds since the server started.",
        gauge(state.metrics.uptime().as_secs() as i64),
    );

    let mut out = String::new();
    let written = encode_registry(&mut out, state.metrics.registry())
        .and_then(|()| encode_registry(&mut out, &now))
        .and_then(|()| encode_eof(&mut out));
    if written.is_err() {
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "the metrics could not be written",
        )
            .into_response();
    }
    ([(header::CONTENT_TYPE, OPENMETRICS)], out).into_response()
}

/// Middleware timing every request by route pattern, method and status.
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = request.method().as_str().to_string();
    let response = next.run(request).await;
    if let Some(codes) = response.extensions().get::<ErrorCodes>() {
        metrics.response(response.status().as_u16());
        for code in &codes.0 {
            metrics.error(code);
        }
    }
    let labels = RouteLabels {
        route,
        method,
        status: response.status().as_u16(),
    };
    metrics.route(&labels, started.elapsed());
    response
}

//! Liveness and readiness for orchestrators.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::cache::CacheHealth;
use crate::state::AppState;

/// How long readiness waits on any one dependency, so an outage shows within a second.
const CHECK_BUDGET: Duration = Duration::from_millis(500);

/// The process is alive.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The dependencies' states at one moment.
pub struct Checks {
    pub database: bool,
    pub cache: CacheHealth,
    pub object_store: bool,
}

/// Asks the database, the cache and the object store, each within [`CHECK_BUDGET`].
pub async fn check(state: &AppState) -> Checks {
    let database = async {
        if state.db_health.is_down() {
            return false;
        }
        let ping = sqlx::query_scalar!(r#"SELECT 1 AS "one!""#).fetch_one(&state.db);
        matches!(tokio::time::timeout(CHECK_BUDGET, ping).await, Ok(Ok(1)))
    };
    let object_store = async {
        tokio::time::timeout(CHECK_BUDGET, state.storage.ping())
            .await
            .unwrap_or(false)
    };
    let (database, cache, object_store) =
        tokio::join!(database, state.cache.health(), object_store);
    Checks {
        database,
        cache,
        object_store,
    }
}

/// Each dependency's state. 503 when the database or the object store is down; a cache
/// that is down only degrades the service (in-process fallbacks serve), so it is reported
/// as `degraded` and the instance stays ready.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let Checks {
        database,
        cache,
        object_store,
    } = check(&state).await;
    let up = |ok: bool| if ok { "up" } else { "down" };
    let ready = database && object_store;
    let cache_status = match cache {
        CacheHealth::Up => "up",
        CacheHealth::Degraded => "degraded",
    };
    let status = match (ready, cache) {
        (false, _) => "unavailable",
        (true, CacheHealth::Degraded) => "degraded",
        (true, CacheHealth::Up) => "ready",
    };
    let body = json!({
        "status": status,
        "checks": {
            "database": { "status": up(database) },
            "cache": { "status": cache_status, "backend": state.cache.backend_name() },
            "objectStore": { "status": up(object_store), "backend": state.storage.backend_name() },
        }
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

//! Liveness and readiness for orchestrators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::state::AppState;

/// The process is alive.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Each dependency's state; 503 unless all are up.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let database = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&state.db)
        .await
        .is_ok();
    let cache = state.cache.ping().await;
    let object_store = state.storage.ping().await;
    let up = |ok: bool| if ok { "up" } else { "down" };
    let ready = database && cache && object_store;
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": {
            "database": { "status": up(database) },
            "cache": { "status": up(cache), "backend": state.cache.backend_name() },
            "objectStore": { "status": up(object_store), "backend": state.storage.backend_name() },
        }
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

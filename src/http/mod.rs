//! HTTP routes.

pub mod client_addr;
pub mod graphql;
pub mod health;
pub mod storage;
pub mod ws;

use axum::Router;
use axum::routing::get;

use crate::graphql::AppSchema;
use crate::state::AppState;

pub fn router(state: AppState, schema: AppSchema) -> Router {
    let gql = graphql::GraphqlState {
        app: state.clone(),
        schema,
        ws_connections: Default::default(),
    };
    let graphql_routes = Router::new()
        .route(
            "/graphql",
            get(graphql::get)
                .post(graphql::post)
                .fallback(graphql::method_not_allowed),
        )
        .route("/graphql/ws", get(ws::upgrade))
        .with_state(gql);
    let storage_routes = Router::new()
        .route("/storage/{*key}", get(storage::get).put(storage::put))
        .with_state(state.storage.clone());
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::serve))
        .with_state(state)
        .merge(graphql_routes)
        .merge(storage_routes)
}

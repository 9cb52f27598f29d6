//! HTTP routes.

pub mod app;
pub mod client_addr;
pub mod graphql;
pub mod health;
pub mod metrics;
pub mod storage;
pub mod ws;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::graphql::AppSchema;
use crate::state::AppState;

pub fn router(state: AppState, schema: AppSchema) -> Router {
    let pages = app::AppHeaders::new(&state.config);
    // Shared behind one `Arc`: axum clones a route's state for every request, and each
    // `Arc` inside the state is an atomic count both cores contend on (cloning and dropping
    // the whole state was 4% of a model read's CPU).
    let gql = std::sync::Arc::new(graphql::GraphqlState {
        app: state.clone(),
        schema,
        ws_connections: Default::default(),
        pages: pages.clone(),
        documents: Default::default(),
    });
    let graphql_routes = Router::new()
        .route(
            "/graphql",
            get(graphql::get)
                .post(graphql::post)
                .fallback(graphql::method_not_allowed),
        )
        .route("/graphql/ws", get(ws::upgrade))
        .with_state(gql)
        .layer(cross_origin(state.config.listed_origins()));
    let storage_routes = Router::new()
        .route("/storage/{*key}", get(storage::get).put(storage::put))
        .with_state(state.storage.clone());
    let request_id = HeaderName::from_static(graphql::REQUEST_ID);
    let metrics = state.metrics.clone();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::serve))
        .with_state(state)
        .merge(graphql_routes)
        .merge(storage_routes)
        .route("/assets/{*path}", get(app::asset).with_state(pages.clone()))
        .fallback_service(get(app::page).with_state(pages))
        // Outermost last: every route is timed and counted, gets an id (a client's own is
        // kept), a span carrying it, and the id back in the response.
        .layer(from_fn_with_state(metrics, metrics::track))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Lets the listed origins' front-end apps call the API from a browser: `GET` and `POST`
/// with `Authorization` and `Content-Type`, never with cookies. With none listed, no CORS
/// header is sent and browsers keep other origins out.
fn cross_origin<'a>(origins: impl Iterator<Item = &'a str>) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([HeaderName::from_static(graphql::REQUEST_ID)])
        .max_age(std::time::Duration::from_secs(600))
}

/// The span of one HTTP request: method, path and request id.
fn request_span(request: &Request<Body>) -> tracing::Span {
    let id = request
        .headers()
        .get(graphql::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
    )
}

//! GraphQL over HTTP: the edge where requests are checked, callers authenticated and
//! answers shaped (status codes and media types per the GraphQL-over-HTTP spec).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_graphql::parser::types::OperationType;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tracing::Instrument;
use uuid::Uuid;

use crate::auth::principal::Principal;
use crate::auth::{self, AuthFailure};
use crate::error::{self, AppError, code};
use crate::graphql::AppSchema;
use crate::graphql::context::ClientAddr;
use crate::graphql::direct::JsonText;
use crate::graphql::gate::{Gate, root_fields};
use crate::graphql::limits::{MAX_BODY_BYTES, MAX_NESTING};
use crate::graphql::loaders::{self, ProjectRoleKey};
use crate::graphql::{admission, nesting};
use crate::http::client_addr;
use crate::state::AppState;
use crate::telemetry::SQL_STATEMENTS;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
/// The header carrying each request's id (in requests and responses).
pub const REQUEST_ID: &str = "x-request-id";
const JSON: &str = "application/json";

pub struct GraphqlState {
    pub app: AppState,
    pub schema: AppSchema,
    /// Open WebSocket connections per user, for their limit.
    pub ws_connections: Arc<crate::http::ws::ConnectionCounts>,
    /// The headers of the bundled GraphiQL page.
    pub pages: crate::http::app::AppHeaders,
    /// Documents admitted before, by their text.
    pub documents: Arc<crate::graphql::documents::Documents>,
}

/// The media type to answer with, following `Accept`.
fn response_media_type(headers: &HeaderMap) -> &'static str {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains(GRAPHQL_RESPONSE_JSON) {
        GRAPHQL_RESPONSE_JSON
    } else {
        JSON
    }
}

/// The `extensions.code` of each error of a GraphQL answer, attached to the response for
/// the metrics middleware (`http::metrics::track`); present on every GraphQL answer.
#[derive(Clone, Debug, Default)]
pub struct ErrorCodes(pub Vec<String>);

/// A GraphQL answer with its status and media type, carrying its error codes.
fn answer(status: StatusCode, media: &'static str, body: String, codes: ErrorCodes) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, media)], body).into_response();
    response.extensions_mut().insert(codes);
    response
}

/// An answer made of request-level errors (no `data`).
fn request_error(
    status: StatusCode,
    media: &'static str,
    error_code: &str,
    message: &str,
) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": error_code } }] });
    answer(
        status,
        media,
        body.to_string(),
        ErrorCodes(vec![error_code.to_string()]),
    )
}

/// An answer made of one error refused before the engine ran (naming the input at fault,
/// or when to retry).
fn input_error(status: StatusCode, media: &'static str, err: &AppError) -> Response {
    let body = json!({ "errors": [err.to_json()] });
    answer(
        status,
        media,
        body.to_string(),
        ErrorCodes(vec![err.code().to_string()]),
    )
}

fn www_authenticate(value: &str) -> (header::HeaderName, HeaderValue) {
    (
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("Bearer")),
    )
}

/// `POST /graphql`: JSON bodies only (no forms or `text/plain`, which browsers send
/// cross-site without a preflight), one operation per request.
pub async fn post(
    State(gql): State<Arc<GraphqlState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let media = response_media_type(&headers);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != JSON {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            code::BAD_USER_INPUT,
            "send the request as `Content-Type: application/json`",
        );
    }
    let charset_ok = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().split_once('='))
        .all(|(k, v)| {
            !k.eq_ignore_ascii_case("charset") || v.trim_matches('"').eq_ignore_ascii_case("utf-8")
        });
    if !charset_ok {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            code::BAD_USER_INPUT,
            "the request body must be UTF-8",
        );
    }
    let too_large = || {
        request_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            media,
            code::BAD_USER_INPUT,
            &format!("the request body is larger than the limit of {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return too_large();
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return too_large();
    };
    if nesting::exceeds(&bytes, MAX_NESTING) {
        return input_error(
            StatusCode::BAD_REQUEST,
            media,
            &AppError::validation(
                "body",
                format!("the request body is nested too deeply: at most {MAX_NESTING} levels"),
            ),
        );
    }
    let mut request = match parse_post_body(&bytes) {
        Ok(r) => r,
        Err(message) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                media,
                code::BAD_USER_INPUT,
                &message,
            );
        }
    };
    if let Err(err) = admission::admit(&mut request, &gql.documents) {
        return input_error(StatusCode::BAD_REQUEST, media, &err);
    }
    execute(gql, peer, &headers, request, media).await
}

/// A well-formed body, read straight into the engine's values (the variables become
/// `ConstValue`s without a `serde_json::Value` tree in between).
#[derive(serde::Deserialize)]
struct WellFormedBody {
    query: String,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<async_graphql::Variables>,
    /// Present, it sends the body the long way, where its type is checked.
    extensions: Option<serde::de::IgnoredAny>,
}

/// Reads `{query, operationName?, variables?, extensions?}`, checking each member's type.
/// Most bodies are well formed and read in one pass; any other is read again as a JSON
/// tree, to say what is wrong with it.
fn parse_post_body(bytes: &Bytes) -> Result<async_graphql::Request, String> {
    if let Ok(body) = serde_json::from_slice::<WellFormedBody>(bytes)
        && body.extensions.is_none()
    {
        let mut request = async_graphql::Request::new(body.query);
        if let Some(name) = body.operation_name {
            request = request.operation_name(name);
        }
        if let Some(variables) = body.variables {
            request = request.variables(variables);
        }
        return Ok(request);
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("the request body is not valid JSON: {e}"))?;
    let obj = match value {
        Value::Object(obj) => obj,
        Value::Array(_) => {
            return Err(
                "batched requests are not supported: send one operation per request".into(),
            );
        }
        _ => return Err("the request body must be a JSON object with a `query`".into()),
    };
    let query = match obj.get("query") {
        Some(Value::String(q)) => q.clone(),
        Some(_) => return Err("`query` must be a string".into()),
        None => return Err("the request has no `query`".into()),
    };
    let mut request = async_graphql::Request::new(query);
    match obj.get("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name.clone()),
        Some(_) => return Err("`operationName` must be a string".into()),
    }
    match obj.get("variables") {
        None | Some(Value::Null) => {}
        Some(vars @ Value::Object(_)) => {
            request = request.variables(async_graphql::Variables::from_json(vars.clone()));
        }
        Some(_) => return Err("`variables` must be an object".into()),
    }
    match obj.get("extensions") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(_) => return Err("`extensions` must be an object".into()),
    }
    Ok(request)
}

/// `GET /graphql`: the GraphiQL playground for browsers, or a query (never a mutation)
/// from URL parameters.
pub async fn get(
    State(gql): State<Arc<GraphqlState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let media = response_media_type(&headers);
    let raw = raw.unwrap_or_default();
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if raw.is_empty() && wants_html {
        return crate::http::app::html(&gql.pages, "graphiql.html");
    }
    if raw.is_empty() {
        return request_error(
            StatusCode::BAD_REQUEST,
            media,
            code::BAD_USER_INPUT,
            "no query: send GET /graphql?query=… (queries only) or POST /graphql with a JSON body {\"query\": …}; open this URL in a browser for GraphiQL",
        );
    }
    let mut request = match async_graphql::http::parse_query_string(&raw) {
        Ok(r) => r,
        Err(e) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                media,
                code::BAD_USER_INPUT,
                &format!(
                    "invalid URL parameters: {e}; give `query` (and optionally `variables`, `operationName`)"
                ),
            );
        }
    };
    if let Err(err) = admission::admit(&mut request, &gql.documents) {
        return input_error(StatusCode::BAD_REQUEST, media, &err);
    }
    if selects_mutation(&mut request) {
        let mut response = request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            code::BAD_USER_INPUT,
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(gql, peer, &headers, request, media).await
}

/// Whether the operation a GET would run is a mutation (or subscription).
fn selects_mutation(request: &mut async_graphql::Request) -> bool {
    let wanted = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else {
        return false; // the executor reports the syntax error
    };
    doc.operations
        .iter()
        .filter(|(name, _)| match (&wanted, name) {
            (Some(wanted), Some(name)) => wanted.as_str() == name.as_str(),
            (Some(_), None) => false,
            (None, _) => true,
        })
        .any(|(_, op)| op.node.ty != OperationType::Query)
}

/// The operation a request selects, as the edge needs to know it.
struct Operation {
    /// `query`, `mutation`, `subscription`, or `refused` when it selects none.
    kind: &'static str,
    name: Option<String>,
    /// The response keys of its root fields, in the document's order.
    root_keys: Vec<String>,
}

fn operation_of(request: &mut async_graphql::Request) -> Operation {
    let wanted = request.operation_name.clone();
    let refused = |name| Operation {
        kind: "refused",
        name,
        root_keys: Vec::new(),
    };
    let Ok(doc) = request.parsed_query() else {
        return refused(wanted);
    };
    let mut chosen = doc.operations.iter().filter(|(name, _)| match &wanted {
        Some(wanted) => name.is_some_and(|n| n.as_str() == wanted.as_str()),
        None => true,
    });
    match (chosen.next(), chosen.next()) {
        (Some((name, op)), None) => {
            let kind = match op.node.ty {
                OperationType::Query => "query",
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
            };
            let mut root_keys: Vec<String> = Vec::new();
            for field in root_fields(doc, &op.node.selection_set) {
                let key = field.node.response_key().node.as_str();
                if !root_keys.iter().any(|k| k == key) {
                    root_keys.push(key.to_string());
                }
            }
            Operation {
                kind,
                name: name.map(|n| n.to_string()),
                root_keys,
            }
        }
        _ => refused(wanted),
    }
}

/// Puts the root fields back in the order the document asks for them: the engine answers
/// a merged root type (`Query`, `Mutation`) part by part. Nested objects already come in
/// the requested order.
fn order_root_fields(data: &mut async_graphql::Value, keys: &[String]) {
    let async_graphql::Value::Object(map) = data else {
        return;
    };
    if map.len() < 2 {
        return;
    }
    let mut ordered = async_graphql::indexmap::IndexMap::with_capacity(map.len());
    for key in keys {
        if let Some((name, value)) = map.shift_remove_entry(key.as_str()) {
            ordered.insert(name, value);
        }
    }
    ordered.extend(map.drain(..));
    *map = ordered;
}

/// What a read needs to be run again.
struct Replay {
    query: String,
    operation_name: Option<String>,
    variables: async_graphql::Variables,
}

impl Replay {
    fn of(request: &async_graphql::Request) -> Self {
        Replay {
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
            variables: request.variables.clone(),
        }
    }

    fn request(self) -> async_graphql::Request {
        let request = async_graphql::Request::new(self.query).variables(self.variables);
        match self.operation_name {
            Some(name) => request.operation_name(name),
            None => request,
        }
    }
}

/// Whether an error of the response says the database connection broke under it.
fn lost_database_connection(response: &async_graphql::Response) -> bool {
    response
        .errors
        .iter()
        .any(|e| e.message == error::DATABASE_CONNECTION_LOST)
}

/// Authenticates the caller, runs the operation and shapes the answer.
async fn execute(
    gql: Arc<GraphqlState>,
    peer: SocketAddr,
    headers: &HeaderMap,
    mut request: async_graphql::Request,
    media: &'static str,
) -> Response {
    // Set for every route by the router's request-id layer (a client's own is kept).
    let request_id = headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_string);
    let span = tracing::info_span!(
        "graphql",
        operation = request.operation_name.as_deref().unwrap_or(""),
    );
    async move {
        let app = &gql.app;
        if app.db_health.is_down() {
            return unavailable(media, "the database is unavailable; retry shortly");
        }
        let addr = ClientAddr(client_addr::resolve(
            peer.ip(),
            headers,
            &app.config.trusted_proxies,
        ));
        let principal = match bearer_token(headers) {
            Ok(None) => None,
            Ok(Some(token)) => match auth::authenticate(app, token).await {
                Ok(principal) => Some(principal),
                Err(AuthFailure::InvalidToken(reason)) => {
                    tracing::info!(%reason, "refused bearer token");
                    return invalid_token(
                        media,
                        "the bearer token is malformed, expired, revoked or not ours: sign in again or use a valid API token",
                    );
                }
                Err(AuthFailure::Unavailable(_)) => {
                    return unavailable(
                        media,
                        "a service needed to check your token is unavailable; retry shortly",
                    );
                }
            },
            Err(()) => {
                return invalid_token(
                    media,
                    "the Authorization header must be `Bearer <token>` (the word Bearer, a space, then the access or API token)",
                );
            }
        };
        let Operation {
            kind,
            name: operation,
            root_keys,
        } = operation_of(&mut request);
        let started = Instant::now();
        // Only a query can run twice without changing anything.
        let replay = (kind == "query").then(|| Replay::of(&request));
        let mut response = run(&gql, request, addr, principal.clone()).await;
        if let Some(replay) = replay
            && lost_database_connection(&response)
        {
            tracing::warn!("a read lost its database connection: running it once more");
            response = run(&gql, replay.request(), addr, principal).await;
        }
        let kind = if refused_before_running(&response) {
            "refused"
        } else {
            kind
        };
        app.metrics
            .operation(kind, operation.as_deref(), started.elapsed());
        order_root_fields(&mut response.data, &root_keys);
        shape(response, media, &request_id)
    }
    .instrument(span)
    .await
}

/// Attaches what resolvers read of the caller: their address, their principal (when
/// signed in) and the request's loaders. Used by HTTP and WebSocket alike.
///
/// Every request passes the deny-by-default gate here first (`graphql::gate`): refused,
/// it never reaches the engine.
pub fn with_caller(
    mut request: async_graphql::Request,
    app: &AppState,
    addr: ClientAddr,
    principal: Option<Principal>,
) -> Result<async_graphql::Request, async_graphql::ServerError> {
    let gate = Gate {
        open_introspection: !app.config.is_production(),
    };
    gate.check(&mut request, principal.as_ref())?;
    let viewer = principal.as_ref().map(|p| p.user_id);
    let loader = loaders::for_request(app.db.clone(), viewer);
    if let Some(p) = &principal {
        for &(project, role) in &p.project_roles {
            loader.prime(ProjectRoleKey(project), role);
        }
    }
    let request = request.data(addr).data(loader);
    Ok(match principal {
        Some(principal) => request.data(principal),
        None => request,
    })
}

/// Whether the operation was refused before it ran (syntax, validation, the gate): errors
/// without a path and no data.
pub fn refused_before_running(response: &async_graphql::Response) -> bool {
    matches!(response.data, async_graphql::Value::Null)
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Attaches the caller and runs the operation.
async fn run(
    gql: &GraphqlState,
    request: async_graphql::Request,
    addr: ClientAddr,
    principal: Option<Principal>,
) -> async_graphql::Response {
    let app = &gql.app;
    let request = match with_caller(request, app, addr, principal) {
        // The answer is written by `write_answer`, which takes lists written as JSON text.
        Ok(request) => request.data(JsonText),
        Err(refused) => return async_graphql::Response::from_errors(vec![refused]),
    };
    if app.config.count_sql {
        let counter = Arc::new(AtomicU64::new(0));
        let response = SQL_STATEMENTS
            .scope(counter.clone(), gql.schema.execute(request))
            .await;
        let n = counter.load(Ordering::Relaxed);
        response.extension("sqlStatements", async_graphql::Value::from(n))
    } else {
        gql.schema.execute(request).await
    }
}

/// A 503 that tells the client when to come back (`retryAfter` and `Retry-After`).
fn unavailable(media: &'static str, message: &str) -> Response {
    let err = AppError::Unavailable(message.into());
    let mut response = input_error(StatusCode::SERVICE_UNAVAILABLE, media, &err);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(error::RETRY_AFTER_UNAVAILABLE_SECS),
    );
    response
}

/// The token of an `Authorization: Bearer` header; `Err` when the header is malformed.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?;
    let (scheme, token) = value.split_once(' ').ok_or(())?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(());
    }
    Ok(Some(token))
}

fn invalid_token(media: &'static str, message: &str) -> Response {
    let mut response = request_error(
        StatusCode::UNAUTHORIZED,
        media,
        code::UNAUTHENTICATED,
        message,
    );
    let (name, value) = www_authenticate(
        "Bearer realm=\"maestro\", error=\"invalid_token\", error_description=\"the access token is invalid\"",
    );
    response.headers_mut().insert(name, value);
    response
}

/// Completes the errors of an executed operation in place, before it is written: every
/// error gets an `extensions.code` (parse and validation errors come from the engine
/// without one: BAD_USER_INPUT, their syntax messages made sentences), internal errors
/// the request id. Used by HTTP and WebSocket alike.
pub fn settle_errors(response: &mut async_graphql::Response, request_id: &str) {
    for error in &mut response.errors {
        let ext = error.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", code::BAD_USER_INPUT);
            if let Some(readable) = readable_syntax_error(&error.message) {
                error.message = readable;
            }
        }
        let internal = matches!(
            ext.get("code"),
            Some(async_graphql::Value::String(c)) if c == code::INTERNAL_SERVER_ERROR
        );
        if internal {
            ext.set("requestId", request_id);
        }
    }
}

/// The codes of a response's (settled) errors.
pub fn response_error_codes(response: &async_graphql::Response) -> ErrorCodes {
    ErrorCodes(
        response
            .errors
            .iter()
            .filter_map(|e| match e.extensions.as_ref()?.get("code")? {
                async_graphql::Value::String(c) => Some(c.clone()),
                _ => None,
            })
            .collect(),
    )
}

/// The errors of a response alone: what a request refused before it ran answers.
#[derive(serde::Serialize)]
struct ErrorsOnly<'a> {
    errors: &'a [async_graphql::ServerError],
}

/// The parser's syntax errors (` --> 1:12 … = expected selection`) as a sentence; `None`
/// for any other message.
fn readable_syntax_error(message: &str) -> Option<String> {
    let position = message.strip_prefix(" --> ")?.lines().next()?.trim();
    let (line, column) = position.split_once(':')?;
    let expected = message.rsplit_once("= expected ")?.1.trim();
    if expected == "executable_definition" && message.contains(&format!("{line} | \n")) {
        return Some(
            "the query is empty: send an operation such as `{ me { id } }` or `query { projects { totalCount } }`".into(),
        );
    }
    let wanted = expected
        .split(", ")
        .map(|rule| match rule {
            "executable_definition" => {
                "an operation (`{ … }`, `query …`, `mutation …`) or a fragment"
            }
            "selection" | "selection_set" => "a field name or `}`",
            "name" => "a name",
            "value" | "const_value" => "a value",
            "type_" | "type" => "a type",
            "arguments" => "arguments",
            "variable" => "a variable",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" or ");
    Some(format!(
        "the query does not parse at line {line}, column {column}: expected {wanted}"
    ))
}

/// Status and body of an executed operation.
/// Written once, straight from the execution result (fields in the order they were
/// asked for), without a JSON tree in between.
fn shape(mut response: async_graphql::Response, media: &'static str, request_id: &str) -> Response {
    let request_failed = refused_before_running(&response);
    settle_errors(&mut response, request_id);
    let codes = response_error_codes(&response);
    let unauthenticated = request_failed && codes.0.iter().any(|c| c == code::UNAUTHENTICATED);
    let body = if request_failed {
        write_answer(&ErrorsOnly {
            errors: &response.errors,
        })
    } else {
        write_answer(&response)
    };
    // Serializing a value the engine built cannot fail (no maps with non-string keys).
    let body = body.unwrap_or_else(|_| r#"{"errors":[{"message":"the answer could not be written","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#.into());
    let status = if unauthenticated {
        StatusCode::UNAUTHORIZED
    } else if request_failed && media == GRAPHQL_RESPONSE_JSON {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut out = answer(status, media, body, codes);
    if unauthenticated {
        let (name, value) = www_authenticate("Bearer realm=\"maestro\"");
        out.headers_mut().insert(name, value);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        out.headers_mut().insert(REQUEST_ID, v);
    }
    out
}

/// An answer as JSON text: serde_json's compact form, except that `Value::Binary` (a list
/// the resolvers wrote as JSON text already; see `graphql::direct::JsonText`) is copied as
/// it is.
fn write_answer(answer: &impl serde::Serialize) -> Result<String, serde_json::Error> {
    struct TextAsIs;
    impl serde_json::ser::Formatter for TextAsIs {
        fn write_byte_array<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            text: &[u8],
        ) -> std::io::Result<()> {
            writer.write_all(text)
        }
    }
    let mut out = Vec::with_capacity(1024);
    answer.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out, TextAsIs,
    ))?;
    String::from_utf8(out).map_err(serde::ser::Error::custom)
}

/// Any other method on `/graphql`.
pub async fn method_not_allowed(method: Method) -> Response {
    let mut response = request_error(
        StatusCode::METHOD_NOT_ALLOWED,
        JSON,
        code::BAD_USER_INPUT,
        &format!("{method} is not supported: use POST (or GET for queries)"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn internal_errors_are_masked_and_carry_the_request_id() {
        let cause = anyhow::anyhow!("relation \"secret_table\" does not exist");
        let err = async_graphql::Error::from(AppError::from(cause))
            .into_server_error(async_graphql::Pos::default())
            .with_path(vec![async_graphql::PathSegment::Field("me".into())]);
        let response = async_graphql::Response::from_errors(vec![err]);
        let id = Uuid::new_v4().to_string();
        let body = body_of(shape(response, JSON, &id)).await;
        let error = &body["errors"][0];
        assert_eq!(error["message"], "internal server error");
        assert_eq!(error["extensions"]["code"], "INTERNAL_SERVER_ERROR");
        assert_eq!(error["extensions"]["requestId"], id);
        assert!(!body.to_string().contains("secret_table"));
    }

    #[test]
    fn bodies_read_in_one_pass_or_are_told_what_is_wrong() {
        let body = |text: &str| parse_post_body(&Bytes::from(text.to_string()));
        let request = body(
            r#"{"query": "query Q($n: Int) { me { id } }", "operationName": "Q", "variables": {"n": 3, "m": [{"k": "a"}]}}"#,
        )
        .unwrap();
        assert_eq!(request.operation_name.as_deref(), Some("Q"));
        let variables = serde_json::to_value(&request.variables).unwrap();
        assert_eq!(variables, json!({"n": 3, "m": [{"k": "a"}]}));
        // Null members are absent members, both ways.
        let request =
            body(r#"{"query": "{ me { id } }", "variables": null, "extensions": {}}"#).unwrap();
        assert!(request.variables.is_empty());
        for (text, said) in [
            (
                r#"{"query": "{ a }", "variables": [1]}"#,
                "`variables` must be an object",
            ),
            (r#"{"query": 1}"#, "`query` must be a string"),
            (
                r#"{"query": "{ a }", "extensions": "x"}"#,
                "`extensions` must be an object",
            ),
            (
                r#"{"query": "{ a }", "operationName": 2}"#,
                "`operationName` must be a string",
            ),
            (
                r#"[{"query": "{ a }"}]"#,
                "batched requests are not supported",
            ),
            (r#"{"variables": {}}"#, "the request has no `query`"),
        ] {
            let message = body(text).unwrap_err();
            assert!(message.contains(said), "{text}: {message}");
        }
    }

    #[test]
    fn syntax_errors_read_as_sentences() {
        let unclosed =
            " --> 1:12\n  |\n1 | { me { id }\n  |            ^---\n  |\n  = expected selection";
        assert_eq!(
            readable_syntax_error(unclosed).as_deref(),
            Some("the query does not parse at line 1, column 12: expected a field name or `}`")
        );
        let empty = " --> 1:1\n  |\n1 | \n  | ^---\n  |\n  = expected executable_definition";
        assert!(
            readable_syntax_error(empty)
                .unwrap()
                .starts_with("the query is empty")
        );
        assert_eq!(readable_syntax_error("Unknown field \"x\""), None);
    }

    #[tokio::test]
    async fn request_errors_are_400_without_data_for_graphql_response_json() {
        let err = async_graphql::ServerError::new("Unknown field", None);
        let response = async_graphql::Response::from_errors(vec![err]);
        let out = shape(response, GRAPHQL_RESPONSE_JSON, "r-1");
        assert_eq!(out.status(), StatusCode::BAD_REQUEST);
        let body = body_of(out).await;
        assert!(body.get("data").is_none());
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }

    #[test]
    fn answers_are_written_as_serde_json_writes_them_with_json_text_copied() {
        use async_graphql::indexmap::IndexMap;
        let object = |fields: Vec<(&str, async_graphql::Value)>| {
            async_graphql::Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (async_graphql::Name::new(k), v))
                    .collect::<IndexMap<_, _>>(),
            )
        };
        let plain = object(vec![
            ("zeta", "quote \" slash \\ tab \t é \u{1}".into()),
            ("alpha", async_graphql::Value::from(0.1)),
            (
                "list",
                async_graphql::Value::List(vec![1.into(), async_graphql::Value::Null]),
            ),
        ]);
        let response = async_graphql::Response::new(plain.clone());
        assert_eq!(
            write_answer(&response).unwrap(),
            serde_json::to_string(&response).unwrap()
        );
        let text = br#"[{"id":"a\"b"}]"#;
        let with_text = object(vec![
            ("before", plain),
            ("runs", async_graphql::Value::Binary(text.to_vec().into())),
        ]);
        let written = write_answer(&async_graphql::Response::new(with_text)).unwrap();
        assert!(
            written.ends_with(r#","runs":[{"id":"a\"b"}]}}"#),
            "{written}"
        );
        serde_json::from_str::<serde_json::Value>(&written).unwrap();
    }

    /// `Value::Binary` in an answer is JSON text written by the resolvers: it must be the
    /// only way one gets there. The schema's one scalar beyond GraphQL's own is DateTime,
    /// whose values are strings; a scalar that answered bytes would reach the client as
    /// text unchecked.
    #[test]
    fn no_scalar_of_the_schema_answers_bytes() {
        let scalars: Vec<String> = crate::graphql::schema::sdl()
            .lines()
            .filter_map(|line| line.strip_prefix("scalar "))
            .map(|name| name.trim().to_owned())
            .collect();
        assert_eq!(scalars, ["DateTime"]);
    }
}

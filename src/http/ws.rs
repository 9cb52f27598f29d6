//! GraphQL over WebSocket at `/graphql/ws`: the graphql-transport-ws protocol (the one of
//! the `graphql-ws` library and of GraphiQL), guarded like every other route.
//!
//! The token comes in `connection_init` (`{"Authorization": "Bearer …"}`); none or a bad
//! one closes the socket with 4403 before anything runs. Every operation passes the same
//! admission and gate as over HTTP. The caller is authenticated again every
//! `SESSION_CHECK`: logout, a password change, a disabled account, a changed role or an
//! expired token close the socket with 4403 within seconds (a client may extend a
//! connection by sending `ping` with `{"Authorization": "Bearer <fresh token>"}`).
//!
//! Close codes: 4400 malformed message, 4401 subscribe before `connection_ack`, 4403
//! forbidden, 4406 subprotocol not `graphql-transport-ws`, 4408 no `connection_init`
//! within `INIT_TIMEOUT`, 4409 a subscription id already in use, 4429 a second
//! `connection_init` or too many connections for one user, 1009 a message over
//! `MAX_MESSAGE_BYTES`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use futures_util::future::Either;
use futures_util::{SinkExt, StreamExt, stream};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use uuid::Uuid;

use crate::auth::principal::Principal;
use crate::auth::{self, AuthFailure};
use crate::graphql::context::ClientAddr;
use crate::graphql::limits::MAX_NESTING;
use crate::graphql::{admission, nesting};
use crate::http::client_addr;
use crate::http::graphql::{
    GraphqlState, refused_before_running, response_error_codes, settle_errors, with_caller,
};
use crate::metrics::Metrics;

pub const PROTOCOL: &str = "graphql-transport-ws";
/// How long a client has to send `connection_init`.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the server pings an idle connection (keeps proxies from closing it).
pub const KEEPALIVE: Duration = Duration::from_secs(15);
/// How often the caller is authenticated again.
pub const SESSION_CHECK: Duration = Duration::from_secs(2);
/// Largest message a client may send.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Most subscriptions running at once on one connection.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 100;
/// Most open connections of one user on one server process.
pub const MAX_CONNECTIONS_PER_USER: usize = 50;
/// Messages waiting for a slow socket; past it, subscriptions stop reading their events
/// and end once they fall behind their own buffer.
const OUTBOX: usize = 256;

/// Open connections per user, in this process.
#[derive(Default)]
pub struct ConnectionCounts(Mutex<HashMap<Uuid, usize>>);

struct ConnectionSlot {
    counts: Arc<ConnectionCounts>,
    user: Uuid,
}

impl ConnectionCounts {
    fn take(self: &Arc<Self>, user: Uuid) -> Option<ConnectionSlot> {
        let mut counts = self.0.lock().expect("ws counts");
        let n = counts.entry(user).or_insert(0);
        if *n >= MAX_CONNECTIONS_PER_USER {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            counts: Arc::clone(self),
            user,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().expect("ws counts");
        if let Some(n) = counts.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

/// What a client sends.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        payload: Option<Value>,
    },
    Ping {
        payload: Option<Value>,
    },
    Pong {},
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    Complete {
        id: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribePayload {
    query: String,
    operation_name: Option<String>,
    variables: Option<Value>,
}

/// `GET /graphql/ws`.
pub async fn upgrade(
    State(gql): State<Arc<GraphqlState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let offered = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim() == PROTOCOL));
    ws.protocols([PROTOCOL])
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            let addr = client_addr::resolve(peer.ip(), &headers, &gql.app.config.trusted_proxies);
            let mut socket = socket;
            if !offered {
                close(
                    &mut socket,
                    4406,
                    "Subprotocol not acceptable: use graphql-transport-ws",
                )
                .await;
                return;
            }
            serve(gql, ClientAddr(addr), socket).await;
        })
}

/// Sends a close frame. Its reason may hold at most 123 bytes (RFC 6455 §5.5).
async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = &reason[..end];
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.to_string()),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

fn text(value: Value) -> Message {
    Message::Text(Utf8Bytes::from(value.to_string()))
}

/// Reads the next client message; `Err` is the close code and reason to answer with.
fn parse(message: Message) -> Result<Option<ClientMessage>, (u16, String)> {
    match message {
        Message::Text(text) => {
            if nesting::exceeds(text.as_bytes(), MAX_NESTING) {
                return Err((
                    4400,
                    format!("the message is nested deeper than {MAX_NESTING} levels"),
                ));
            }
            serde_json::from_str(text.as_str())
                .map(Some)
                .map_err(|e| (4400, format!("invalid message: {e}")))
        }
        Message::Binary(_) => Err((4400, "send text messages".into())),
        _ => Ok(None),
    }
}

/// The token of an `Authorization` member of a payload (`Bearer ` optional).
fn token_of(payload: Option<&Value>) -> Option<String> {
    let obj = payload?.as_object()?;
    let value = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))?
        .1
        .as_str()?;
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token,
        _ => value,
    };
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// Outgoing traffic from the subscriptions of one connection.
enum Outgoing {
    Send(Message),
    Finished(String),
}

async fn serve(gql: Arc<GraphqlState>, addr: ClientAddr, mut socket: WebSocket) {
    // 1. connection_init, with a token, in time.
    let first = tokio::time::timeout(INIT_TIMEOUT, socket.recv()).await;
    let message = match first {
        Err(_) => return close(&mut socket, 4408, "Connection initialisation timeout").await,
        Ok(None) | Ok(Some(Err(_))) => return,
        Ok(Some(Ok(message))) => message,
    };
    let payload = match parse(message) {
        Ok(Some(ClientMessage::ConnectionInit { payload })) => payload,
        Ok(Some(ClientMessage::Subscribe { .. })) => {
            return close(&mut socket, 4401, "Unauthorized").await;
        }
        Ok(_) => return close(&mut socket, 4400, "send connection_init first").await,
        Err((code, reason)) => return close(&mut socket, code, &reason).await,
    };
    let Some(mut token) = token_of(payload.as_ref()) else {
        return close(
            &mut socket,
            4403,
            "Forbidden: send {\"Authorization\": \"Bearer <token>\"} in connection_init",
        )
        .await;
    };
    let principal = match auth::authenticate(&gql.app, &token).await {
        Ok(p) => p,
        Err(AuthFailure::InvalidToken(_)) => {
            return close(
                &mut socket,
                4403,
                "Forbidden: the token is malformed, expired, revoked or not ours",
            )
            .await;
        }
        Err(AuthFailure::Unavailable(_)) => {
            return close(
                &mut socket,
                1013,
                "a service needed to check your token is unavailable; retry shortly",
            )
            .await;
        }
    };
    let Some(_slot) = gql.ws_connections.take(principal.user_id) else {
        let reason =
            format!("too many connections for this user: at most {MAX_CONNECTIONS_PER_USER}");
        return close(&mut socket, 4429, &reason).await;
    };
    if socket
        .send(text(json!({ "type": "connection_ack" })))
        .await
        .is_err()
    {
        return;
    }
    gql.app.metrics.ws_connection(1);

    // 2. Subscriptions until either side ends the connection.
    let (outbox, mut outgoing) = mpsc::channel::<Outgoing>(OUTBOX);
    let mut running: HashMap<String, AbortHandle> = HashMap::new();
    let mut keepalive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    let mut session_check =
        tokio::time::interval_at(tokio::time::Instant::now() + SESSION_CHECK, SESSION_CHECK);
    let ended: Option<(u16, String)> = loop {
        tokio::select! {
            incoming = socket.recv() => {
                let message = match incoming {
                    None | Some(Err(_)) => {
                        break Some((1009, "the message is too large or the connection failed".into()));
                    }
                    Some(Ok(Message::Close(_))) => break None,
                    Some(Ok(message)) => message,
                };
                match parse(message) {
                    Err(close) => break Some(close),
                    Ok(None) => {}
                    Ok(Some(ClientMessage::ConnectionInit { .. })) => {
                        break Some((4429, "Too many initialisation requests".into()));
                    }
                    Ok(Some(ClientMessage::Ping { payload })) => {
                        if let Some(fresh) = token_of(payload.as_ref()) {
                            match auth::authenticate(&gql.app, &fresh).await {
                                Ok(p) if p.user_id == principal.user_id => token = fresh,
                                _ => break Some((4403, "Forbidden: that token is not valid for this connection".into())),
                            }
                        }
                        if socket.send(text(json!({ "type": "pong" }))).await.is_err() {
                            break None;
                        }
                    }
                    Ok(Some(ClientMessage::Pong {})) => {}
                    Ok(Some(ClientMessage::Complete { id })) => {
                        if let Some(task) = running.remove(&id) {
                            task.abort();
                            gql.app.metrics.subscription(-1);
                        }
                    }
                    Ok(Some(ClientMessage::Subscribe { id, payload })) => {
                        if running.contains_key(&id) {
                            break Some((4409, format!("Subscriber for {id} already exists")));
                        }
                        if running.len() >= MAX_SUBSCRIPTIONS_PER_CONNECTION {
                            let error = json!({ "type": "error", "id": id, "payload": [{
                                "message": format!("at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions run at once on one connection: complete one or open another connection"),
                                "extensions": { "code": "RATE_LIMITED", "retryAfter": 1 },
                            }] });
                            if socket.send(text(error)).await.is_err() {
                                break None;
                            }
                            continue;
                        }
                        let task = tokio::spawn(run_subscription(
                            gql.clone(),
                            principal.clone(),
                            addr,
                            id.clone(),
                            payload,
                            outbox.clone(),
                        ));
                        running.insert(id, task.abort_handle());
                        gql.app.metrics.subscription(1);
                    }
                }
            }
            Some(out) = outgoing.recv() => {
                // Write whatever else is ready too, then flush once: one event reaching
                // twenty subscriptions of a socket is one write, not twenty.
                let mut next = Some(out);
                let mut failed = false;
                while let Some(out) = next.take() {
                    match out {
                        Outgoing::Send(message) => {
                            if socket.feed(message).await.is_err() {
                                failed = true;
                                break;
                            }
                        }
                        Outgoing::Finished(id) => {
                            if running.remove(&id).is_some() {
                                gql.app.metrics.subscription(-1);
                            }
                        }
                    }
                    next = outgoing.try_recv().ok();
                }
                if failed || socket.flush().await.is_err() {
                    break None;
                }
            }
            _ = keepalive.tick() => {
                if socket.send(text(json!({ "type": "ping" }))).await.is_err() {
                    break None;
                }
            }
            _ = session_check.tick() => {
                match auth::authenticate(&gql.app, &token).await {
                    Ok(p) if p.user_id == principal.user_id && p.role == principal.role => {}
                    Err(AuthFailure::Unavailable(_)) => {} // check again later
                    _ => break Some((4403, "Forbidden: your session ended, your token expired or your role changed: sign in again and reconnect".into())),
                }
            }
        }
    };
    for (_, task) in running.drain() {
        task.abort();
        gql.app.metrics.subscription(-1);
    }
    gql.app.metrics.ws_connection(-1);
    if let Some((code, reason)) = ended {
        close(&mut socket, code, &reason).await;
    }
}

/// Completes and counts the errors of an answer sent over the socket.
fn settle_and_count(metrics: &Metrics, response: &mut async_graphql::Response, request_id: &str) {
    settle_errors(response, request_id);
    for code in response_error_codes(response).0 {
        metrics.error(&code);
    }
}

/// Sends one result as `next`, written straight from the execution result into the
/// message, without a JSON tree between.
async fn send_next(
    outbox: &mpsc::Sender<Outgoing>,
    id: &str,
    mut response: async_graphql::Response,
    request_id: &str,
    metrics: &Metrics,
) -> bool {
    if !response.errors.is_empty() {
        settle_and_count(metrics, &mut response, request_id);
    }
    let payload = serde_json::to_string(&response).unwrap_or_else(|_| "{}".into());
    let id = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into());
    let message = format!("{{\"type\":\"next\",\"id\":{id},\"payload\":{payload}}}");
    outbox
        .send(Outgoing::Send(Message::Text(Utf8Bytes::from(message))))
        .await
        .is_ok()
}

/// Runs one operation of the connection, sending `next` for each result, then
/// `complete`; or one `error` when the operation is refused before it runs.
async fn run_subscription(
    gql: Arc<GraphqlState>,
    principal: Principal,
    addr: ClientAddr,
    id: String,
    payload: SubscribePayload,
    outbox: mpsc::Sender<Outgoing>,
) {
    // One id per subscription, quoted with any internal error it meets.
    let request_id = Uuid::new_v4().to_string();
    let mut request = async_graphql::Request::new(payload.query);
    if let Some(name) = payload.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = payload.variables {
        request = request.variables(async_graphql::Variables::from_json(variables));
    }
    let send = |message: Value| {
        let outbox = outbox.clone();
        async move { outbox.send(Outgoing::Send(text(message))).await.is_ok() }
    };
    if let Err(err) = admission::admit(&mut request, &gql.documents) {
        gql.app.metrics.error(err.code());
        send(json!({ "type": "error", "id": id, "payload": [err.to_json()] })).await;
        let _ = outbox.send(Outgoing::Finished(id)).await;
        return;
    }
    // Refused by the gate, the operation is one refused answer, sent below like the
    // engine's own refusals.
    let mut stream = match with_caller(request, &gql.app, addr, Some(principal)) {
        Ok(request) => Either::Left(gql.schema.execute_stream(request)),
        Err(refused) => Either::Right(stream::once(std::future::ready(
            async_graphql::Response::from_errors(vec![refused]),
        ))),
    };
    let mut first = true;
    while let Some(mut response) = stream.next().await {
        let refused = first && refused_before_running(&response);
        first = false;
        if refused {
            settle_and_count(&gql.app.metrics, &mut response, &request_id);
            let errors = serde_json::to_value(&response.errors).unwrap_or(json!([]));
            send(json!({ "type": "error", "id": id, "payload": errors })).await;
            let _ = outbox.send(Outgoing::Finished(id)).await;
            return;
        }
        if !send_next(&outbox, &id, response, &request_id, &gql.app.metrics).await {
            return;
        }
    }
    send(json!({ "type": "complete", "id": id })).await;
    let _ = outbox.send(Outgoing::Finished(id)).await;
}

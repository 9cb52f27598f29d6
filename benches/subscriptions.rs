//! Live delivery under load, against a live Maestro (release build):
//!
//!   scripts/bench.sh subscriptions
//!   MAESTRO_URL=http://127.0.0.1:8000 MAESTRO_PID=<server pid> cargo bench --bench subscriptions
//!
//! 1,000 `runMetrics` subscribers spread over 50 sockets on one run, and one writer
//! logging 100-point batches as fast as it can for `WRITE_FOR`. Prints delivered events
//! per second, delivery latency (write acknowledged → event received; an event that
//! arrives before the writer's acknowledgement counts as 0), events lost by subscribers,
//! and the server's memory per idle subscriber (from /proc, when MAESTRO_PID is given).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use uuid::Uuid;

const SOCKETS: usize = 50;
const PER_SOCKET: usize = 20;
const POINTS: usize = 100;
const WRITE_FOR: Duration = Duration::from_secs(20);

async fn gql(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let mut req = client
        .post(url)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let body: Value = req.send().await.unwrap().json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Received events: (socket, subscription) → batches, and every latency.
#[derive(Default)]
struct Tally {
    received: HashMap<(usize, usize), Vec<u64>>,
    latencies: Vec<Duration>,
    errors: Vec<String>,
}

#[tokio::main]
async fn main() {
    let base = std::env::var("MAESTRO_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    let pid = std::env::var("MAESTRO_PID").ok();
    let url = format!("{base}/graphql");
    let client = reqwest::Client::new();
    let email = format!("live-{}@example.com", Uuid::new_v4().simple());
    let reg = gql(
        &client,
        &url,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
        json!({ "i": { "email": email, "password": "benchmark-password", "name": "Live" } }),
    )
    .await;
    let token = reg["register"]["accessToken"].as_str().unwrap().to_string();
    let project = gql(
        &client,
        &url,
        Some(&token),
        "mutation { createProject(input: {name: \"live\"}) { id } }",
        json!({}),
    )
    .await["createProject"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let experiment = gql(
        &client,
        &url,
        Some(&token),
        "mutation($p: ID!) { createExperiment(input: {projectId: $p, name: \"e\"}) { id } }",
        json!({ "p": project }),
    )
    .await["createExperiment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = gql(
        &client,
        &url,
        Some(&token),
        "mutation($e: ID!) { createRun(input: {experimentId: $e}) { id } }",
        json!({ "e": experiment }),
    )
    .await["createRun"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Let the setup's allocations (argon2's 19 MiB at registration) go back first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_before = pid.as_deref().and_then(rss_kib);
    let ws_url = base.replacen("http", "ws", 1) + "/graphql/ws";
    let acks: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let tally: Arc<Mutex<Tally>> = Arc::default();
    let mut readers = Vec::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(SOCKETS);
    for s in 0..SOCKETS {
        let mut request = ws_url.as_str().into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("socket");
        ws.send(Message::Text(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }).to_string().into())).await.unwrap();
        let ack = ws.next().await.unwrap().unwrap();
        assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
        for i in 0..PER_SOCKET {
            let sub = json!({ "type": "subscribe", "id": i.to_string(), "payload": {
                "query": "subscription($r: ID!) { runMetrics(runId: $r) { points { step } } }",
                "variables": { "r": run } } });
            ws.send(Message::Text(sub.to_string().into()))
                .await
                .unwrap();
        }
        let (acks, tally, ready) = (acks.clone(), tally.clone(), ready_tx.clone());
        readers.push(tokio::spawn(async move {
            let _ = ready.send(()).await;
            while let Some(Ok(frame)) = ws.next().await {
                let Message::Text(text) = frame else { continue };
                let now = Instant::now();
                let text = text.as_str();
                // Read only what is measured, without parsing the whole message: the
                // client shares the machine with the server and should cost it little.
                if text.starts_with(r#"{"type":"next""#) && !text.contains(r#""errors""#) {
                    let field = |name: &str| -> Option<u64> {
                        let start = text.find(name)? + name.len();
                        let digits: String = text[start..]
                            .chars()
                            .take_while(|c| c.is_ascii_digit())
                            .collect();
                        digits.parse().ok()
                    };
                    let (Some(sub), Some(step)) = (field(r#""id":""#), field(r#""step":"#)) else {
                        tally.lock().unwrap().errors.push(text.to_string());
                        continue;
                    };
                    let batch = step / POINTS as u64;
                    let acked = acks.lock().unwrap().get(&batch).copied();
                    let mut t = tally.lock().unwrap();
                    t.received.entry((s, sub as usize)).or_default().push(batch);
                    let latency =
                        acked.map_or(Duration::ZERO, |a| now.saturating_duration_since(a));
                    t.latencies.push(latency);
                    continue;
                }
                let msg: Value = serde_json::from_str(text).unwrap();
                match msg["type"].as_str() {
                    Some("ping") | Some("complete") => {}
                    _ => tally.lock().unwrap().errors.push(msg.to_string()),
                }
            }
        }));
    }
    for _ in 0..SOCKETS {
        ready_rx.recv().await;
    }
    // Let every subscription register before measuring memory and writing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = pid.as_deref().and_then(rss_kib);

    let started = Instant::now();
    let mut batch = 0u64;
    while started.elapsed() < WRITE_FOR {
        let points: Vec<Value> = (0..POINTS)
            .map(|i| json!({ "key": "loss", "value": 1.0 / (1 + i) as f64, "step": batch * POINTS as u64 + i as u64 }))
            .collect();
        gql(
            &client,
            &url,
            Some(&token),
            "mutation($r: ID!, $m: [MetricInput!]!) { logMetrics(runId: $r, metrics: $m) }",
            json!({ "r": run, "m": points }),
        )
        .await;
        acks.lock().unwrap().insert(batch, Instant::now());
        batch += 1;
    }
    let writing = started.elapsed();
    // Let delivery finish.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let elapsed = started.elapsed();
    for r in readers {
        r.abort();
    }
    let t = tally.lock().unwrap();
    let mut latencies = t.latencies.clone();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let complete = t
        .received
        .values()
        .filter(|b| b.len() as u64 == batch)
        .count();
    let delivered: usize = t.received.values().map(Vec::len).sum();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| subscribers (sockets × subscriptions) | {} ({SOCKETS} × {PER_SOCKET}) |",
        SOCKETS * PER_SOCKET
    );
    println!(
        "| batches written ({POINTS} points each) | {batch} in {:.1} s ({:.0}/s) |",
        writing.as_secs_f64(),
        batch as f64 / writing.as_secs_f64()
    );
    println!(
        "| events delivered | {delivered} ({:.0}/s) |",
        delivered as f64 / elapsed.as_secs_f64()
    );
    println!(
        "| delivery latency p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |",
        ms(pct(0.5)),
        ms(pct(0.99)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    println!(
        "| subscribers that got every batch | {complete} of {} |",
        SOCKETS * PER_SOCKET
    );
    println!("| errors received | {} |", t.errors.len());
    if let (Some(before), Some(idle)) = (rss_before, rss_idle) {
        println!(
            "| server memory per idle subscriber | {:.1} KiB ({before} → {idle} KiB RSS) |",
            (idle.saturating_sub(before)) as f64 / (SOCKETS * PER_SOCKET) as f64
        );
    }
    if let Some(e) = t.errors.first() {
        println!("\nfirst error: {e}");
    }
}

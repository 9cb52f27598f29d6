//! Sign-ins must not starve the rest: the latency of a small authenticated read, alone and
//! then under a storm of sign-ins, in one run against a live Maestro (release build):
//!
//!   scripts/bench.sh login_storm
//!   MAESTRO_URL=http://127.0.0.1:8000 cargo bench --bench login_storm
//!
//! Prints p50/p99 of the read in both phases and their ratio (the aim: p99 under the storm
//! within 2× of p99 without it), with the sign-ins served and refused. Compare the ratio,
//! not absolute times: this machine is shared.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

const READERS: usize = 4;
const SIGNERS: usize = 8;
const PHASE: Duration = Duration::from_secs(15);
const PASSWORD: &str = "benchmark-password";

async fn post(client: &reqwest::Client, url: &str, token: Option<&str>, body: Value) -> Value {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("JSON")
}

async fn register(client: &reqwest::Client, url: &str) -> (String, String) {
    let email = format!("storm-{}@example.com", Uuid::new_v4().simple());
    let body = post(
        client,
        url,
        None,
        json!({
            "query": "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
            "variables": { "i": { "email": email, "password": PASSWORD, "name": "Storm" } },
        }),
    )
    .await;
    let token = body["data"]["register"]["accessToken"]
        .as_str()
        .expect("registered")
        .to_string();
    (email, token)
}

/// Reads `{ me }` from `READERS` clients until `stop`; returns every latency.
async fn read_latencies(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    stop: Arc<AtomicBool>,
) -> Vec<Duration> {
    let tasks: Vec<_> = (0..READERS)
        .map(|_| {
            let (client, url, token, stop) = (
                client.clone(),
                url.to_string(),
                token.to_string(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut out = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let body = post(
                        &client,
                        &url,
                        Some(&token),
                        json!({ "query": "{ me { id email name } }" }),
                    )
                    .await;
                    assert!(body["data"]["me"]["id"].is_string(), "{body}");
                    out.push(started.elapsed());
                }
                out
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

async fn phase(client: &reqwest::Client, url: &str, token: &str) -> Vec<Duration> {
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(PHASE).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let latencies = read_latencies(client, url, token, stop).await;
    timer.await.unwrap();
    latencies
}

#[tokio::main]
async fn main() {
    let base = std::env::var("MAESTRO_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    let url = format!("{base}/graphql");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let (_, reader) = register(&client, &url).await;
    let mut signers = Vec::new();
    for _ in 0..SIGNERS {
        signers.push(register(&client, &url).await.0);
    }

    let quiet = phase(&client, &url, &reader).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (served, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let storm: Vec<_> = signers
        .into_iter()
        .map(|email| {
            let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
            let (served, refused) = (served.clone(), refused.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let body = post(&client, &url, None, json!({
                        "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                        "variables": { "i": { "email": email, "password": PASSWORD } },
                    }))
                    .await;
                    match body["errors"][0]["extensions"]["code"].as_str() {
                        None => served.fetch_add(1, Ordering::Relaxed),
                        Some("RATE_LIMITED") => {
                            let wait = body["errors"][0]["extensions"]["retryAfter"]
                                .as_u64()
                                .unwrap_or(1);
                            tokio::time::sleep(Duration::from_millis(wait * 100)).await;
                            refused.fetch_add(1, Ordering::Relaxed)
                        }
                        Some(other) => panic!("sign-in failed: {other}: {body}"),
                    };
                }
            })
        })
        .collect();
    let stormy = phase(&client, &url, &reader).await;
    stop.store(true, Ordering::Relaxed);
    for t in storm {
        t.await.unwrap();
    }

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (q50, q99) = (percentile(&quiet, 0.5), percentile(&quiet, 0.99));
    let (s50, s99) = (percentile(&stormy, 0.5), percentile(&stormy, 0.99));
    println!("| phase | reads | p50 | p99 |");
    println!("|---|---|---|---|");
    println!(
        "| {READERS} readers alone | {} | {:.1} ms | {:.1} ms |",
        quiet.len(),
        ms(q50),
        ms(q99)
    );
    println!(
        "| {READERS} readers + {SIGNERS} clients signing in | {} | {:.1} ms | {:.1} ms |",
        stormy.len(),
        ms(s50),
        ms(s99)
    );
    println!();
    println!(
        "p99 ratio under the storm: {:.2}× (aim ≤ 2×); sign-ins served {:.1}/s, refused with RATE_LIMITED {:.1}/s",
        ms(s99) / ms(q99),
        served.load(Ordering::Relaxed) as f64 / PHASE.as_secs_f64(),
        refused.load(Ordering::Relaxed) as f64 / PHASE.as_secs_f64(),
    );
}

//! The mixed load test that judges the SLOs of `docs/SLO.md`, driven by Goose:
//!
//!   scripts/load.sh 600       # release build, fresh database, 600 s of load, SLO table
//!
//! Four kinds of clients share the server, in the proportions of a team at work:
//! - **CI jobs** (8 users) authenticate with a WRITE API token, start a run with params,
//!   log 100 metric points per call every 100–300 ms, tag and finish the run after 100
//!   calls and start the next;
//! - **people browsing** (8 users) sign in once, then list projects, open an experiment's
//!   runs table (50 runs by a metric, with params and latest metrics), and open a run with
//!   its chart (`metricHistorySampled`, 1,000 of 10,000 points), refreshing their access
//!   token as the web app does;
//! - **registry users** (2) open a model with its versions, register a version from a run,
//!   move it to STAGING and move the `champion` alias to it;
//! - **sign-ins** (2) sign in with a password, ask `me` and sign out, every 2–5 s.
//!
//! Every GraphQL answer with `errors` counts as a failed request. When the run ends, each
//! SLO is printed as met or missed with the measured figure, and the server's resident
//! memory over the run (`MAESTRO_PID`) is judged for growth. Exit status 1 when any SLO
//! is missed.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;

use common::{Api, unique_email};
use goose::config::GooseConfiguration;
use goose::prelude::*;
use serde_json::{Value, json};

/// What every user shares: made over the API before the load starts.
struct Fixture {
    email: String,
    password: String,
    ci_token: String,
    browse_experiment: String,
    ci_experiment: String,
    runs: Vec<String>,
    chart_run: String,
    model: String,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE
        .get()
        .expect("the fixture is made before the load starts")
}

/// The SLOs: Goose threshold rules, one request kind each (see docs/SLO.md).
const SLOS: &[&str] = &[
    "p95<50ms for POST logMetrics",
    "p99<150ms for POST logMetrics",
    "p95<50ms for POST projects",
    "p95<150ms for POST runsTable",
    "p99<300ms for POST runsTable",
    "p95<100ms for POST runPage",
    "p95<50ms for POST model",
    "p95<100ms for POST registerVersion",
    "p95<100ms for POST setStage",
    "p95<100ms for POST setAlias",
    "p95<750ms for POST login",
    "error-rate<0.1%",
];

/// Resident memory may grow at most this much from the run's second tenth to its last.
const MEMORY_GROWTH_LIMIT: f64 = 0.10;

#[tokio::main]
async fn main() {
    let base = std::env::var("MAESTRO_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let started = Instant::now();
    let fixture = make_fixture(&base).await;
    eprintln!("fixture made in {:.1?}", started.elapsed());
    FIXTURE.set(fixture).ok().expect("made once");

    let rss = std::env::var("MAESTRO_PID")
        .ok()
        .map(|pid| sample_rss(pid, seconds));

    let mut attack = GooseAttack::initialize_with_config(GooseConfiguration::default())
        .expect("goose starts")
        .register_scenario(
            scenario!("ci job")
                .set_weight(8)
                .unwrap()
                .set_wait_time(Duration::from_millis(100), Duration::from_millis(300))
                .unwrap()
                .register_transaction(transaction!(ci_start).set_on_start())
                .register_transaction(transaction!(ci_log)),
        )
        .register_scenario(
            scenario!("browsing")
                .set_weight(8)
                .unwrap()
                .set_wait_time(Duration::from_millis(500), Duration::from_millis(2000))
                .unwrap()
                .register_transaction(transaction!(sign_in_person).set_on_start())
                .register_transaction(transaction!(browse)),
        )
        .register_scenario(
            scenario!("registry")
                .set_weight(2)
                .unwrap()
                .set_wait_time(Duration::from_millis(1000), Duration::from_millis(3000))
                .unwrap()
                .register_transaction(transaction!(sign_in_person).set_on_start())
                .register_transaction(transaction!(registry)),
        )
        .register_scenario(
            scenario!("sign-ins")
                .set_weight(2)
                .unwrap()
                .set_wait_time(Duration::from_millis(2000), Duration::from_millis(5000))
                .unwrap()
                .register_transaction(transaction!(sign_in_and_out)),
        )
        .set_default(GooseDefault::Host, base.as_str())
        .unwrap()
        .set_default(GooseDefault::Users, 20)
        .unwrap()
        .set_default(GooseDefault::IncreaseRate, "10")
        .unwrap()
        .set_default(GooseDefault::RunTime, seconds as usize)
        .unwrap()
        .set_default(GooseDefault::NoThresholdAbort, true)
        .unwrap()
        .set_default(GooseDefault::Quiet, 1)
        .unwrap()
        .set_default(GooseDefault::NoPrintMetrics, true)
        .unwrap();
    for rule in SLOS {
        attack = attack
            .set_default(GooseDefault::Threshold, *rule)
            .expect("a valid rule");
    }
    let metrics = match attack.execute().await {
        Ok(metrics) => metrics,
        Err(GooseError::ThresholdsFailed { metrics, .. }) => *metrics.0,
        Err(other) => panic!("the load test did not run: {other}"),
    };

    println!("\n{}", request_table(&metrics));
    let mut missed = 0;
    println!("| SLO | measured | verdict |");
    println!("|---|---|---|");
    for result in &metrics.thresholds {
        let verdict = if result.passed { "met" } else { "MISSED" };
        missed += usize::from(!result.passed);
        println!("| `{}` | {} | {verdict} |", result.rule, result.observed);
    }
    if let Some(rss) = rss {
        let samples = rss.await.expect("the sampler ends");
        let (line, met) = memory_verdict(&samples);
        missed += usize::from(!met);
        println!("{line}");
    }
    println!(
        "\n{} s of load with 20 users; {} SLO(s) missed",
        metrics.duration, missed
    );
    if missed > 0 {
        std::process::exit(1);
    }
}

/// Counts, throughput and percentiles per request kind, as a Markdown table.
fn request_table(metrics: &GooseMetrics) -> String {
    let mut names: Vec<&String> = metrics.requests.keys().collect();
    names.sort();
    let mut out = String::from(
        "| request | count | failed | per s | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|---|\n",
    );
    for name in names {
        let r = &metrics.requests[name];
        let data = &r.raw_data;
        let ms = |p: f32| data.percentile_us(p) as f64 / 1000.0;
        out.push_str(&format!(
            "| {name} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
            r.success_count + r.fail_count,
            r.fail_count,
            (r.success_count + r.fail_count) as f64 / metrics.duration.max(1) as f64,
            ms(0.5),
            ms(0.95),
            ms(0.99),
            ms(1.0),
        ));
    }
    out
}

/// Samples the server's resident memory every second until the run ends (plus a margin).
fn sample_rss(pid: String, seconds: u64) -> tokio::task::JoinHandle<Vec<u64>> {
    tokio::spawn(async move {
        let mut samples = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        for _ in 0..seconds {
            tick.tick().await;
            if let Some(kib) = rss_kib(&pid) {
                samples.push(kib);
            }
        }
        samples
    })
}

fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The memory line and whether it meets the growth limit: the mean of the run's second
/// tenth (the first is warm-up) against the mean of its last tenth.
fn memory_verdict(samples: &[u64]) -> (String, bool) {
    if samples.len() < 20 {
        return ("memory: too few samples to judge growth".into(), true);
    }
    let tenth = samples.len() / 10;
    let mean = |s: &[u64]| s.iter().sum::<u64>() as f64 / s.len() as f64 / 1024.0;
    let early = mean(&samples[tenth..2 * tenth]);
    let late = mean(&samples[samples.len() - tenth..]);
    let max = *samples.iter().max().expect("samples") as f64 / 1024.0;
    let growth = late / early - 1.0;
    let met = growth < MEMORY_GROWTH_LIMIT;
    let by_tenth: Vec<String> = samples
        .chunks(tenth)
        .take(10)
        .map(|c| format!("{:.0}", mean(c)))
        .collect();
    let line = format!(
        "| resident memory: growth from the 2nd to the last tenth < {:.0}% | {:+.1}% ({early:.0} → {late:.0} MB; max {max:.0} MB; by tenth {}) | {} |",
        MEMORY_GROWTH_LIMIT * 100.0,
        growth * 100.0,
        by_tenth.join(", "),
        if met { "met" } else { "MISSED" },
    );
    (line, met)
}

// ---- the fixture, made with a plain client before the load --------------------------------

async fn make_fixture(base: &str) -> Fixture {
    let email = unique_email("load");
    let password = "load-test-password".to_string();
    let (api, _) = Api::register(base, reqwest::Client::new(), &email, &password).await;
    let id = |v: &Value, field: &str| v[field]["id"].as_str().unwrap().to_string();

    let project = id(
        &api.gql(
            "mutation { createProject(input: {name: \"load\"}) { id } }",
            json!({}),
        )
        .await,
        "createProject",
    );
    let experiment = |name: &'static str| {
        api.gql(
            "mutation($p: ID!, $n: String!) { createExperiment(input: {projectId: $p, name: $n}) { id } }",
            json!({ "p": project, "n": name }),
        )
    };
    let browse_experiment = id(&experiment("sweep").await, "createExperiment");
    let ci_experiment = id(&experiment("ci").await, "createExperiment");
    let mut runs = Vec::new();
    for i in 0..200 {
        let run = id(
            &api.gql(
                "mutation($i: CreateRunInput!) { createRun(input: $i) { id } }",
                json!({ "i": { "experimentId": browse_experiment, "name": format!("trial-{i}"),
                    "params": [{"key": "lr", "value": format!("{}", (i % 10) as f64 / 100.0)},
                               {"key": "batch", "value": "64"}] } }),
            )
            .await,
            "createRun",
        );
        let points: Vec<Value> = (0..100)
            .map(|s| json!({ "key": "loss", "value": ((i * 7919 + s) % 1000) as f64 / 1000.0, "step": s }))
            .chain([json!({ "key": "acc", "value": (i % 100) as f64 / 100.0 })])
            .collect();
        api.gql(
            "mutation($r: ID!, $m: [MetricInput!]!) { logMetrics(runId: $r, metrics: $m) }",
            json!({ "r": run, "m": points }),
        )
        .await;
        runs.push(run);
    }
    let chart_run = runs[0].clone();
    for chunk in 0..10 {
        let points: Vec<Value> = (0..1000)
            .map(|s| {
                let step = chunk * 1000 + s + 100;
                json!({ "key": "loss", "value": 1.0 / (step + 1) as f64, "step": step })
            })
            .collect();
        api.gql(
            "mutation($r: ID!, $m: [MetricInput!]!) { logMetrics(runId: $r, metrics: $m) }",
            json!({ "r": chart_run, "m": points }),
        )
        .await;
    }
    let model = id(
        &api.gql(
            "mutation($p: ID!) { createModel(input: {projectId: $p, name: \"classifier\"}) { id } }",
            json!({ "p": project }),
        )
        .await,
        "createModel",
    );
    for run in runs.iter().take(20) {
        api.gql(
            "mutation($m: ID!, $r: ID) { createModelVersion(input: {modelId: $m, sourceRunId: $r}) { id } }",
            json!({ "m": model, "r": run }),
        )
        .await;
    }
    let token = api
        .gql(
            "mutation { createApiToken(input: {name: \"ci\", scopes: [READ, WRITE]}) { token } }",
            json!({}),
        )
        .await;
    Fixture {
        email,
        password,
        ci_token: token["createApiToken"]["token"]
            .as_str()
            .unwrap()
            .to_string(),
        browse_experiment,
        ci_experiment,
        runs,
        chart_run,
        model,
    }
}

// ---- one GraphQL call, measured by Goose under its operation's name ------------------------

/// Posts `query` as `name` (with `token` unless empty); an answer with `errors` (or not 2xx) is a failed request.
async fn call(
    user: &mut GooseUser,
    name: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Result<Value, Box<TransactionError>> {
    let mut builder = user
        .get_request_builder(&GooseMethod::Post, "/graphql")?
        .json(&json!({ "query": query, "variables": variables }));
    if !token.is_empty() {
        builder = builder.bearer_auth(token);
    }
    let request = GooseRequest::builder()
        .set_request_builder(builder)
        .name(name)
        .build();
    let mut goose = user.request(request).await?;
    let body = match goose.response {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => {
            let tag = error.to_string();
            return user
                .set_failure(&tag, &mut goose.request, None, None)
                .map(|()| Value::Null);
        }
    };
    let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if value.get("data").is_none() || value.get("errors").is_some() {
        return user
            .set_failure(
                &format!("{name} failed"),
                &mut goose.request,
                None,
                Some(&body),
            )
            .map(|()| Value::Null);
    }
    Ok(value["data"].clone())
}

/// A cheap, per-user sequence for picking runs and steps without a random-number crate.
fn next(counter: &AtomicU64) -> usize {
    let n = counter.fetch_add(1, Ordering::Relaxed);
    (n.wrapping_mul(2654435761) >> 7) as usize
}

static PICKS: AtomicU64 = AtomicU64::new(1);

// ---- CI jobs ----------------------------------------------------------------------------

#[derive(Clone)]
struct CiJob {
    run: String,
    calls: i64,
}

const CALLS_PER_RUN: i64 = 100;

async fn ci_start(user: &mut GooseUser) -> TransactionResult {
    let run = start_run(user).await?;
    user.set_session_data(CiJob { run, calls: 0 });
    Ok(())
}

async fn start_run(user: &mut GooseUser) -> Result<String, Box<TransactionError>> {
    let f = fixture();
    let data = call(
        user,
        "createRun",
        &f.ci_token,
        "mutation($i: CreateRunInput!) { createRun(input: $i) { id } }",
        json!({ "i": { "experimentId": f.ci_experiment,
            "params": [{"key": "lr", "value": "0.01"}, {"key": "optimizer", "value": "adam"}],
            "tags": [{"key": "git.commit", "value": "abc123"}] } }),
    )
    .await?;
    Ok(data["createRun"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

async fn ci_log(user: &mut GooseUser) -> TransactionResult {
    let f = fixture();
    let job = user.get_session_data_unchecked::<CiJob>().clone();
    let first = job.calls * 100;
    let points: Vec<Value> = (0..100)
        .map(|s| {
            let step = first + s;
            json!({ "key": if s % 2 == 0 { "train/loss" } else { "train/acc" },
                    "value": 1.0 / (step + 1) as f64, "step": step })
        })
        .collect();
    call(
        user,
        "logMetrics",
        &f.ci_token,
        "mutation($r: ID!, $m: [MetricInput!]!) { logMetrics(runId: $r, metrics: $m) }",
        json!({ "r": job.run, "m": points }),
    )
    .await?;
    let calls = job.calls + 1;
    if calls < CALLS_PER_RUN {
        user.get_session_data_unchecked_mut::<CiJob>().calls = calls;
        return Ok(());
    }
    call(
        user,
        "finishRun",
        &f.ci_token,
        "mutation($r: ID!) { updateRun(id: $r, input: {status: FINISHED}) { id } }",
        json!({ "r": job.run }),
    )
    .await?;
    let run = start_run(user).await?;
    user.set_session_data(CiJob { run, calls: 0 });
    Ok(())
}

// ---- people: browsing and the registry ----------------------------------------------------

#[derive(Clone)]
struct Person {
    access: String,
    refresh: String,
    since: Instant,
}

/// Refresh the access token once it is this old (it lives 15 minutes).
const REFRESH_AFTER: Duration = Duration::from_secs(10 * 60);

async fn sign_in_person(user: &mut GooseUser) -> TransactionResult {
    let f = fixture();
    let data = call(
        user,
        "login",
        "",
        "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }",
        json!({ "i": { "email": f.email, "password": f.password } }),
    )
    .await?;
    user.set_session_data(Person {
        access: data["login"]["accessToken"]
            .as_str()
            .unwrap_or_default()
            .into(),
        refresh: data["login"]["refreshToken"]
            .as_str()
            .unwrap_or_default()
            .into(),
        since: Instant::now(),
    });
    Ok(())
}

/// The person's access token, refreshed first when it is old, as the web app does.
async fn access(user: &mut GooseUser) -> Result<String, Box<TransactionError>> {
    let person = user.get_session_data_unchecked::<Person>().clone();
    if person.since.elapsed() < REFRESH_AFTER {
        return Ok(person.access);
    }
    let data = call(
        user,
        "refreshToken",
        "",
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }",
        json!({ "t": person.refresh }),
    )
    .await?;
    let renewed = Person {
        access: data["refreshToken"]["accessToken"]
            .as_str()
            .unwrap_or_default()
            .into(),
        refresh: data["refreshToken"]["refreshToken"]
            .as_str()
            .unwrap_or_default()
            .into(),
        since: Instant::now(),
    };
    let token = renewed.access.clone();
    user.set_session_data(renewed);
    Ok(token)
}

async fn browse(user: &mut GooseUser) -> TransactionResult {
    let f = fixture();
    let token = access(user).await?;
    call(
        user,
        "projects",
        &token,
        "{ projects(first: 20) { edges { node { id name experiments(first: 20) { edges { node { id name } } } } } } }",
        json!({}),
    )
    .await?;
    let (experiment, order) = if next(&PICKS).is_multiple_of(4) {
        (
            &f.ci_experiment,
            json!({ "attribute": "STARTED_AT", "direction": "DESC" }),
        )
    } else {
        (
            &f.browse_experiment,
            json!({ "metric": "acc", "direction": "DESC" }),
        )
    };
    call(
        user,
        "runsTable",
        &token,
        "query($e: ID!, $o: RunOrderBy) { runs(experimentIds: [$e], orderBy: $o, first: 50) {
            edges { cursor node { id name status startedAt endedAt params { key value } latestMetrics { key value step } } }
            pageInfo { hasNextPage endCursor } } }",
        json!({ "e": experiment, "o": order }),
    )
    .await?;
    let run = if next(&PICKS).is_multiple_of(3) {
        &f.chart_run
    } else {
        &f.runs[next(&PICKS) % f.runs.len()]
    };
    call(
        user,
        "runPage",
        &token,
        "query($r: ID!) { run(id: $r) { id name status params { key value } tags { key value }
            latestMetrics { key value step } metricHistorySampled(key: \"loss\", maxPoints: 1000) { step value }
            artifacts { path } modelVersions { version } } }",
        json!({ "r": run }),
    )
    .await?;
    Ok(())
}

async fn registry(user: &mut GooseUser) -> TransactionResult {
    let f = fixture();
    let token = access(user).await?;
    call(
        user,
        "model",
        &token,
        "query($m: ID!) { model(id: $m) { id name latestVersion { version stage }
            aliases { alias versionNumber }
            versions(first: 50) { edges { node { id version stage createdAt sourceRun { id name } } } } } }",
        json!({ "m": f.model }),
    )
    .await?;
    let run = &f.runs[next(&PICKS) % f.runs.len()];
    let version = call(
        user,
        "registerVersion",
        &token,
        "mutation($m: ID!, $r: ID) { createModelVersion(input: {modelId: $m, sourceRunId: $r}) { id version } }",
        json!({ "m": f.model, "r": run }),
    )
    .await?;
    let id = version["createModelVersion"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    call(
        user,
        "setStage",
        &token,
        "mutation($v: ID!) { setModelVersionStage(id: $v, stage: STAGING) { id stage } }",
        json!({ "v": id }),
    )
    .await?;
    call(
        user,
        "setAlias",
        &token,
        "mutation($m: ID!, $v: ID!) { setModelAlias(modelId: $m, alias: \"champion\", versionId: $v) { id aliases } }",
        json!({ "m": f.model, "v": id }),
    )
    .await?;
    Ok(())
}

// ---- sign-ins ---------------------------------------------------------------------------

async fn sign_in_and_out(user: &mut GooseUser) -> TransactionResult {
    let f = fixture();
    let data = call(
        user,
        "login",
        "",
        "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }",
        json!({ "i": { "email": f.email, "password": f.password } }),
    )
    .await?;
    let access = data["login"]["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let refresh = data["login"]["refreshToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    call(user, "me", &access, "{ me { id email } }", json!({})).await?;
    call(
        user,
        "logout",
        &access,
        "mutation($t: String) { logout(refreshToken: $t) }",
        json!({ "t": refresh }),
    )
    .await?;
    Ok(())
}

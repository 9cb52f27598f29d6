//! Subscriptions over graphql-transport-ws at /graphql/ws: delivery, authorization,
//! session ends, and every limit with its close code.

mod common;

use std::time::{Duration, Instant};

use common::ws::{Seen, WsClient};
use common::{TestApp, error_code};
use serde_json::{Value, json};

const RUN_METRICS: &str = "subscription($r: ID!, $k: [String!]) { runMetrics(runId: $r, keys: $k) { runId points { key step value } } }";

/// A project with an experiment and a run, owned by a fresh user: (token, project, experiment, run).
async fn world(app: &TestApp) -> (String, String, String, String) {
    let (_, s) = app.user("live").await;
    let project = app.create_project(&s.access, "live").await;
    let experiment = app.create_experiment(&s.access, &project, "e").await;
    let run = app.create_run(&s.access, &experiment, "r").await;
    (s.access, project, experiment, run)
}

#[tokio::test]
async fn run_metrics_delivers_each_log_metrics_call_with_only_the_keys_asked_for() {
    let app = TestApp::spawn().await;
    let (token, _, _, run) = world(&app).await;
    let mut ws = WsClient::connect(app.addr, &token).await;
    ws.subscribe("m", RUN_METRICS, json!({ "r": run, "k": ["loss"] }))
        .await;
    // The subscription is registered once the server has read the message; give it a beat.
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.log_metrics(&token, &run, json!([{ "key": "loss", "value": 0.5, "step": 1 }, { "key": "acc", "value": 0.9, "step": 1 }]))
        .await;
    app.log_metrics(
        &token,
        &run,
        json!([{ "key": "acc", "value": 0.95, "step": 2 }]),
    )
    .await;
    app.log_metrics(
        &token,
        &run,
        json!([{ "key": "loss", "value": 0.25, "step": 3 }]),
    )
    .await;
    let first = ws.next_for("m").await;
    assert_eq!(first["type"], "next");
    assert_eq!(first["payload"]["data"]["runMetrics"]["runId"], run);
    assert_eq!(
        first["payload"]["data"]["runMetrics"]["points"],
        json!([{ "key": "loss", "step": 1, "value": 0.5 }])
    );
    // The acc-only call is not delivered: the next event is the third call.
    let second = ws.next_for("m").await;
    assert_eq!(
        second["payload"]["data"]["runMetrics"]["points"],
        json!([{ "key": "loss", "step": 3, "value": 0.25 }])
    );
}

#[tokio::test]
async fn a_live_runs_table_sees_runs_created_updated_and_deleted() {
    let app = TestApp::spawn().await;
    let (token, _, experiment, _) = world(&app).await;
    let mut ws = WsClient::connect(app.addr, &token).await;
    ws.subscribe(
        "t",
        "subscription($e: ID!) { experimentRuns(experimentId: $e) { kind runId run { name status } } }",
        json!({ "e": experiment }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let run = app.create_run(&token, &experiment, "fresh").await;
    let created = ws.next_for("t").await;
    assert_eq!(
        created["payload"]["data"]["experimentRuns"]["kind"],
        "CREATED"
    );
    assert_eq!(
        created["payload"]["data"]["experimentRuns"]["run"]["name"],
        "fresh"
    );

    ws.subscribe(
        "u",
        "subscription($r: ID!) { runUpdated(runId: $r) { status params { key value } } }",
        json!({ "r": run }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.gql(
        Some(&token),
        "mutation($r: ID!) { logParams(runId: $r, params: [{key: \"lr\", value: \"0.1\"}]) { id } }",
        json!({ "r": run }),
    )
    .await;
    let updated = ws.next_for("u").await;
    assert_eq!(
        updated["payload"]["data"]["runUpdated"]["params"],
        json!([{ "key": "lr", "value": "0.1" }])
    );
    let table = ws.next_for("t").await;
    assert_eq!(
        table["payload"]["data"]["experimentRuns"]["kind"],
        "UPDATED"
    );
    app.gql(
        Some(&token),
        "mutation($r: ID!) { updateRun(id: $r, input: {status: FINISHED}) { id } }",
        json!({ "r": run }),
    )
    .await;
    let finished = ws.next_for("u").await;
    assert_eq!(
        finished["payload"]["data"]["runUpdated"]["status"], "FINISHED",
        "fresh data, not the last event's"
    );
    ws.next_for("t").await;

    app.gql(
        Some(&token),
        "mutation($r: ID!) { deleteRun(id: $r) }",
        json!({ "r": run }),
    )
    .await;
    let gone = ws.next_for("u").await;
    assert_eq!(
        error_code(&gone["payload"]).as_deref(),
        Some("NOT_FOUND"),
        "{gone}"
    );
    assert_eq!(ws.next_for("u").await["type"], "complete");
    let deleted = ws.next_for("t").await;
    assert_eq!(
        deleted["payload"]["data"]["experimentRuns"]["kind"],
        "DELETED"
    );
    assert_eq!(
        deleted["payload"]["data"]["experimentRuns"]["run"],
        Value::Null
    );
}

#[tokio::test]
async fn model_events_report_versions_stages_and_aliases() {
    let app = TestApp::spawn().await;
    let (token, project, _, run) = world(&app).await;
    let model = app.create_model(&token, &project, "m").await;
    let mut ws = WsClient::connect(app.addr, &token).await;
    ws.subscribe(
        "e",
        "subscription($m: ID!) { modelEvents(modelId: $m) { kind alias version { version stage } } }",
        json!({ "m": model }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let version = app.create_version(&token, &model, Some(&run)).await;
    let id = version["id"].as_str().unwrap();
    app.gql(
        Some(&token),
        "mutation($v: ID!) { setModelVersionStage(id: $v, stage: PRODUCTION) { id } }",
        json!({ "v": id }),
    )
    .await;
    app.gql(
        Some(&token),
        "mutation($m: ID!, $v: ID!) { setModelAlias(modelId: $m, alias: \"champion\", versionId: $v) { id } }",
        json!({ "m": model, "v": id }),
    )
    .await;
    app.gql(
        Some(&token),
        "mutation($m: ID!) { deleteModelAlias(modelId: $m, alias: \"champion\") }",
        json!({ "m": model }),
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let event = ws.next_for("e").await;
        seen.push(event["payload"]["data"]["modelEvents"].clone());
    }
    assert_eq!(seen[0]["kind"], "VERSION_CREATED");
    assert_eq!(seen[0]["version"]["version"], 1);
    assert_eq!(seen[1]["kind"], "STAGE_CHANGED");
    assert_eq!(seen[1]["version"]["stage"], "PRODUCTION");
    assert_eq!(
        (&seen[2]["kind"], &seen[2]["alias"]),
        (&json!("ALIAS_SET"), &json!("champion"))
    );
    assert_eq!(
        (&seen[3]["kind"], &seen[3]["alias"]),
        (&json!("ALIAS_DELETED"), &json!("champion"))
    );
}

#[tokio::test]
async fn a_socket_without_a_valid_token_is_closed_with_4403_before_anything_runs() {
    let app = TestApp::spawn().await;
    for payload in [
        json!({}),
        json!({ "Authorization": "Bearer garbage" }),
        Value::Null,
    ] {
        let mut ws = WsClient::open(app.addr).await;
        ws.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_eq!(ws.closed().await.0, 4403, "{payload}");
    }
    // Subscribing before connection_init: 4401.
    let mut ws = WsClient::open(app.addr).await;
    ws.subscribe(
        "x",
        "subscription { runMetrics(runId: \"x\") { runId } }",
        json!({}),
    )
    .await;
    assert_eq!(ws.closed().await.0, 4401);
    // Without the subprotocol: 4406.
    let mut ws = WsClient::open_with(app.addr, None).await;
    assert_eq!(ws.closed().await.0, 4406);
}

#[tokio::test]
async fn what_the_caller_cannot_see_answers_not_found() {
    let app = TestApp::spawn().await;
    let (_, _, experiment, run) = world(&app).await;
    let (_, stranger) = app.user("stranger").await;
    let mut ws = WsClient::connect(app.addr, &stranger.access).await;
    ws.subscribe("a", RUN_METRICS, json!({ "r": run })).await;
    let answer = ws.next_for("a").await;
    assert_eq!(
        error_code(&answer["payload"]).as_deref(),
        Some("NOT_FOUND"),
        "{answer}"
    );
    ws.subscribe(
        "b",
        "subscription($e: ID!) { experimentRuns(experimentId: $e) { kind } }",
        json!({ "e": experiment }),
    )
    .await;
    let answer = ws.next_for("b").await;
    assert_eq!(
        error_code(&answer["payload"]).as_deref(),
        Some("NOT_FOUND"),
        "{answer}"
    );
}

#[tokio::test]
async fn logout_closes_the_callers_sockets_within_seconds() {
    let app = TestApp::spawn().await;
    let (token, _, _, run) = world(&app).await;
    let mut ws = WsClient::connect(app.addr, &token).await;
    ws.subscribe("m", RUN_METRICS, json!({ "r": run })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.gql(Some(&token), "mutation { logout }", json!({}))
        .await;
    let started = Instant::now();
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 4403, "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn removal_from_the_project_ends_the_subscription() {
    let app = TestApp::spawn().await;
    let (owner, project, _, run) = world(&app).await;
    let (email, member) = app.user("member").await;
    app.add_member(&owner, &project, &email, "VIEWER").await;
    let mut ws = WsClient::connect(app.addr, &member.access).await;
    ws.subscribe("m", RUN_METRICS, json!({ "r": run })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.log_metrics(&owner, &run, json!([{ "key": "loss", "value": 1.0 }]))
        .await;
    assert_eq!(
        ws.next_for("m").await["type"],
        "next",
        "a viewer gets the events"
    );
    app.gql(
        Some(&owner),
        "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) }",
        json!({ "p": project, "u": member.user_id }),
    )
    .await;
    let ended = ws.next_for("m").await;
    assert_eq!(
        error_code(&ended["payload"]).as_deref(),
        Some("NOT_FOUND"),
        "{ended}"
    );
    assert_eq!(ws.next_for("m").await["type"], "complete");
}

#[tokio::test]
async fn protocol_limits_answer_with_their_close_codes() {
    let app = TestApp::spawn().await;
    let (token, _, _, run) = world(&app).await;
    // A second connection_init: 4429.
    let mut ws = WsClient::connect(app.addr, &token).await;
    ws.send(json!({ "type": "connection_init", "payload": {} }))
        .await;
    assert_eq!(ws.closed().await.0, 4429);
    // A subscription id in use: 4409.
    let mut ws = WsClient::connect(app.addr, &token).await;
    ws.subscribe("same", RUN_METRICS, json!({ "r": run })).await;
    ws.subscribe("same", RUN_METRICS, json!({ "r": run })).await;
    assert_eq!(ws.closed().await.0, 4409);
    // A message that is not one: 4400.
    let mut ws = WsClient::connect(app.addr, &token).await;
    ws.send_text("{\"type\": \"nonsense\"}".into()).await;
    assert_eq!(ws.closed().await.0, 4400);
    // A message over 64 KiB: 1009.
    let mut ws = WsClient::connect(app.addr, &token).await;
    ws.send_text(format!(
        "{{\"type\":\"ping\",\"payload\":{{\"x\":\"{}\"}}}}",
        "a".repeat(70_000)
    ))
    .await;
    assert_eq!(ws.closed().await.0, 1009);
    // Too many subscriptions on one connection: that one is refused, the others run.
    let mut ws = WsClient::connect(app.addr, &token).await;
    for i in 0..100 {
        ws.subscribe(&format!("s{i}"), RUN_METRICS, json!({ "r": run }))
            .await;
    }
    ws.subscribe("one-too-many", RUN_METRICS, json!({ "r": run }))
        .await;
    let refused = ws.next_for("one-too-many").await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    // Hostile documents are refused by the same admission as over HTTP.
    let mut ws = WsClient::connect(app.addr, &token).await;
    let deep = format!(
        "subscription {{ runMetrics(runId: {}{}) {{ runId }} }}",
        "[".repeat(100),
        "]".repeat(100)
    );
    ws.subscribe("deep", &deep, json!({})).await;
    let refused = ws.next_for("deep").await;
    assert_eq!(refused["type"], "error");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    // And by the same gate: a string PostgreSQL cannot store never reaches the engine.
    ws.subscribe("nul", RUN_METRICS, json!({ "r": "a\u{0}b" }))
        .await;
    let refused = ws.next_for("nul").await;
    assert_eq!(refused["type"], "error");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn a_socket_that_never_sends_connection_init_is_closed_with_4408() {
    let app = TestApp::spawn().await;
    let mut ws = WsClient::open(app.addr).await;
    let started = Instant::now();
    match ws.next_within(Duration::from_secs(15)).await {
        Some(Seen::Closed(code, _)) => assert_eq!(code, 4408),
        other => panic!("expected a close, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_secs(9));
}

#[tokio::test]
async fn a_disabled_account_and_an_expired_token_close_the_socket() {
    use base64::Engine;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let app = TestApp::spawn().await;
    let admin = app.register(&common::unique_email("admin")).await;
    let (_, user) = app.user("to-disable").await;
    let mut ws = WsClient::connect(app.addr, &user.access).await;
    app.gql(
        Some(&admin.access),
        "mutation($id: ID!) { updateUser(id: $id, input: { disabled: true }) { id } }",
        json!({ "id": user.user_id }),
    )
    .await;
    assert_eq!(ws.closed().await.0, 4403);

    // A valid token of a live session that expires in two seconds.
    let (_, other) = app.user("expiring").await;
    let payload = other.access.split('.').nth(1).unwrap();
    let real: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let mut claims = real.clone();
    claims["exp"] = json!(now + 2);
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    let short = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(common::JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let mut ws = WsClient::connect(app.addr, &short).await;
    let started = Instant::now();
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 4403, "{reason}");
    // Expiry (2 s) plus the token leeway (5 s) plus one check (2 s), with slack.
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
}

//! Two `maestro serve` processes on one PostgreSQL and one Redis behave as one server:
//! tokens, revocation (within moments), login limits, live events and the storage janitor.

mod common;

use std::time::Duration;

use common::processes::MaestroProcess;
use common::ws::WsClient;
use common::{PASSWORD, TestApp, error_code, test_config, unique_email};
use maestro::storage::janitor::{self, Pass};
use serde_json::json;

/// One server process of the binary under test, and a client for it.
struct Replica {
    app: TestApp,
    _process: MaestroProcess,
}

/// Starts a `maestro serve` process on `database_url` and the shared Redis `prefix`, and
/// a client for it (the `TestApp` helpers, pointed at the process's port).
async fn replica(client_app: &TestApp, database_url: &str, prefix: &str) -> Replica {
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let process = MaestroProcess::start(
        database_url,
        &[("REDIS_URL", &redis), ("MAESTRO_REDIS_PREFIX", prefix)],
    )
    .await;
    Replica {
        app: client_app.pointed_at(process.addr),
        _process: process,
    }
}

/// Two replicas on a fresh database, sharing one Redis prefix.
async fn two_replicas() -> (TestApp, Replica, Replica) {
    // The in-process app creates and migrates the database; the replicas serve it.
    let setup = TestApp::spawn().await;
    let config = test_config();
    let prefix = config.redis_prefix;
    let a = replica(&setup, &setup.database_url, &prefix).await;
    let b = replica(&setup, &setup.database_url, &prefix).await;
    (setup, a, b)
}

#[tokio::test]
async fn sessions_revocation_and_login_limits_hold_across_replicas() {
    let (_setup, a, b) = two_replicas().await;
    let email = unique_email("replicas");
    let session = a.app.register(&email).await;
    let me = "{ me { id } }";
    // A token issued by one works on the other.
    let data = b.app.gql(Some(&session.access), me, json!({})).await;
    assert_eq!(data["me"]["id"], session.user_id.as_str());
    // B keeps the principal it read; a logout on A reaches it through PostgreSQL's
    // notification (milliseconds; the bound is generous for a loaded test machine).
    for _ in 0..3 {
        b.app.gql(Some(&session.access), me, json!({})).await;
    }
    a.app
        .gql(Some(&session.access), "mutation { logout }", json!({}))
        .await;
    assert_eq!(
        a.app.gql_raw(Some(&session.access), me, json!({})).await.0,
        401
    );
    let logged_out = std::time::Instant::now();
    loop {
        let (status, _) = b.app.gql_raw(Some(&session.access), me, json!({})).await;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            logged_out.elapsed() < Duration::from_secs(2),
            "the other replica still accepts a logged-out session"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Failed logins counted on both hit the one limit (10 per account).
    for i in 0..10 {
        let server = if i % 2 == 0 { &a.app } else { &b.app };
        let (_, body) = server.login(&email, "wrong password!!").await;
        assert_eq!(error_code(&body).as_deref(), Some("UNAUTHENTICATED"));
    }
    for server in [&a.app, &b.app] {
        let (_, body) = server.login(&email, PASSWORD).await;
        assert_eq!(error_code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    }
}

#[tokio::test]
async fn a_subscription_on_one_replica_receives_writes_made_through_the_other() {
    let (_setup, a, b) = two_replicas().await;
    let (_, s) = a.app.user("fanout").await;
    let project = a.app.create_project(&s.access, "p").await;
    let experiment = a.app.create_experiment(&s.access, &project, "e").await;
    let run = a.app.create_run(&s.access, &experiment, "r").await;
    let mut ws = WsClient::connect(b.app.addr, &s.access).await;
    ws.subscribe(
        "m",
        "subscription($r: ID!) { runMetrics(runId: $r) { points { key value } } }",
        json!({ "r": run }),
    )
    .await;
    ws.subscribe(
        "t",
        "subscription($e: ID!) { experimentRuns(experimentId: $e) { kind run { name } } }",
        json!({ "e": experiment }),
    )
    .await;
    // Let replica B subscribe to the Redis channels.
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.app
        .log_metrics(&s.access, &run, json!([{ "key": "loss", "value": 0.5 }]))
        .await;
    a.app.create_run(&s.access, &experiment, "second").await;
    let metrics = ws.next_for("m").await;
    assert_eq!(
        metrics["payload"]["data"]["runMetrics"]["points"],
        json!([{ "key": "loss", "value": 0.5 }])
    );
    let created = ws.next_for("t").await;
    assert_eq!(
        created["payload"]["data"]["experimentRuns"]["run"]["name"],
        "second"
    );
}

#[tokio::test]
async fn the_storage_janitor_runs_on_one_process_at_a_time() {
    let app = TestApp::spawn().await;
    let state = app.state.clone();
    // The server's own janitor may be in its first pass (holding the lock) just now.
    let mut ran = false;
    for _ in 0..50 {
        if janitor::pass(&state.db, &state.storage).await.unwrap() == Pass::Ran {
            ran = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ran, "a pass runs once no other holds the lock");
    // Another process holding the janitor's lock: this one skips its pass.
    let other = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let mut conn = other.acquire().await.unwrap();
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext('maestro.storage_janitor'))")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert!(locked);
    assert_eq!(
        janitor::pass(&state.db, &state.storage).await.unwrap(),
        Pass::Skipped
    );
    let _: bool =
        sqlx::query_scalar("SELECT pg_advisory_unlock(hashtext('maestro.storage_janitor'))")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(
        janitor::pass(&state.db, &state.storage).await.unwrap(),
        Pass::Ran
    );
}

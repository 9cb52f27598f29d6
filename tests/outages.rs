//! Dependencies failing under a running server: Redis and PostgreSQL are stopped and
//! restarted for real (private instances, so other tests keep theirs).

mod common;

use std::time::{Duration, Instant};

use common::processes::{PrivatePostgres, PrivateRedis};
use common::{PASSWORD, TestApp, error_code};
use serde_json::{Value, json};

async fn readiness(app: &TestApp) -> (u16, Value) {
    let resp = app.client.get(app.url("/readyz")).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// Polls readiness until `done` holds, for at most `limit`.
async fn wait_for_readiness(app: &TestApp, limit: Duration, done: impl Fn(u16, &Value) -> bool) {
    let started = Instant::now();
    loop {
        let (status, body) = readiness(app).await;
        if done(status, &body) {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "readiness stayed {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn with_redis_down_every_request_keeps_working_on_fallbacks() {
    let mut redis = PrivateRedis::start();
    let app = TestApp::spawn_with(|c| c.redis_url = Some(redis.url())).await;
    let (email, session) = app.user("redis-down").await;
    let me = "{ me { id } }";
    app.gql(Some(&session.access), me, json!({})).await;
    let (status, ready) = readiness(&app).await;
    assert_eq!(
        (status, &ready["checks"]["cache"]["status"]),
        (200, &json!("up"))
    );

    redis.stop();
    // Reads, sign-ins and sign-outs all work; none waits on the dead Redis. The bound is
    // loose on purpose (a shared machine); without the breaker each call took ~9 s.
    for _ in 0..5 {
        let started = Instant::now();
        app.gql(Some(&session.access), me, json!({})).await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
    let (status, body) = app.login(&email, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let second = body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql(Some(&second), "mutation { logout }", json!({}))
        .await;
    let (status, _) = app.gql_raw(Some(&second), me, json!({})).await;
    assert_eq!(status, 401, "a logged-out token is refused without Redis");
    // Failed sign-ins are still limited, in process.
    for _ in 0..10 {
        app.login(&email, "wrong password!!").await;
    }
    let (_, body) = app.login(&email, PASSWORD).await;
    assert_eq!(error_code(&body).as_deref(), Some("RATE_LIMITED"), "{body}");
    // Readiness: still ready, the cache degraded.
    let (status, ready) = readiness(&app).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["cache"]["status"], "degraded");
    assert_eq!(ready["status"], "degraded");

    // Redis comes back (empty): the breaker closes and Redis serves again.
    redis.restart();
    wait_for_readiness(&app, Duration::from_secs(10), |s, b| {
        s == 200 && b["checks"]["cache"]["status"] == "up"
    })
    .await;
    app.gql(Some(&session.access), me, json!({})).await;
}

#[tokio::test]
async fn a_database_restart_answers_service_unavailable_and_then_recovers() {
    let pg = PrivatePostgres::start();
    let app = TestApp::spawn_with(|c| {
        c.database_url = pg.url("maestro");
        c.db_acquire_timeout_secs = 2;
    })
    .await;
    let (_, s) = app.user("pg-restart").await;
    let project = app.create_project(&s.access, "survives").await;
    let read = "query($id: ID!) { project(id: $id) { name } }";

    pg.stop();
    // Readiness shows the outage at once: its database check has a budget under a second.
    let (status, ready) = readiness(&app).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["checks"]["database"]["status"], "down");
    // Reads and writes answer SERVICE_UNAVAILABLE with retryAfter, never an internal error.
    for query in [read, "mutation($id: ID!) { deleteProject(id: $id) }"] {
        let (status, body) = app
            .gql_raw(Some(&s.access), query, json!({ "id": project }))
            .await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("SERVICE_UNAVAILABLE"),
            "{status} {body}"
        );
        assert!(
            body["errors"][0]["extensions"]["retryAfter"]
                .as_u64()
                .unwrap()
                > 0
        );
    }

    pg.restart();
    wait_for_readiness(&app, Duration::from_secs(15), |s, _| s == 200).await;
    let data = app
        .gql(Some(&s.access), read, json!({ "id": project }))
        .await;
    assert_eq!(data["project"]["name"], "survives", "nothing was lost");
    app.create_project(&s.access, "after the restart").await;
}

#[tokio::test]
async fn connections_killed_under_the_server_never_answer_internal_errors() {
    let app = TestApp::spawn().await;
    let (_, s) = app.user("terminated").await;
    let project = app.create_project(&s.access, "kept").await;
    let admin = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let database = app.database_url.rsplit('/').next().unwrap().to_string();
    for round in 0..3 {
        // What a PostgreSQL restart does to each open connection. The pool hands out a
        // connection used moments ago without a check (`db::pool::worth_checking`): the credential
        // read fails on a dead one and must be read once more on a checked one.
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&database)
        .execute(&admin)
        .await
        .unwrap();
        let (_, body) = app
            .gql_raw(
                Some(&s.access),
                "query($id: ID!) { project(id: $id) { name experiments { totalCount } } }",
                json!({ "id": project }),
            )
            .await;
        assert_eq!(
            body["data"]["project"]["name"], "kept",
            "round {round}: {body}"
        );
        let (_, body) = app
            .gql_raw(
                Some(&s.access),
                "mutation($i: CreateExperimentInput!) { createExperiment(input: $i) { id } }",
                json!({ "i": { "projectId": project, "name": format!("e{round}") } }),
            )
            .await;
        assert_ne!(
            error_code(&body).as_deref(),
            Some("INTERNAL_SERVER_ERROR"),
            "round {round}: {body}"
        );
    }
}

#[tokio::test]
async fn a_read_whose_connection_dies_mid_statement_is_run_once_more() {
    let app = TestApp::spawn().await;
    let (_, s) = app.user("mid-statement").await;
    let project = app.create_project(&s.access, "read twice").await;
    let admin = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let database = app.database_url.rsplit('/').next().unwrap().to_string();
    // Hold the table so the server's read waits inside its statement.
    let mut lock = admin.begin().await.unwrap();
    sqlx::query("LOCK TABLE projects IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let read = {
        let (client, url, token) = (app.client.clone(), app.url("/graphql"), s.access.clone());
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({
                    "query": "query($id: ID!) { project(id: $id) { name } }",
                    "variables": { "id": project },
                }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    // Kill the connection that waits on the lock, as a server restart would.
    let started = Instant::now();
    loop {
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&database)
        .fetch_all(&admin)
        .await
        .unwrap();
        if !killed.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the read never waited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    lock.commit().await.unwrap();
    let body = read.await.unwrap();
    assert_eq!(body["data"]["project"]["name"], "read twice", "{body}");
}

#[tokio::test]
async fn a_statement_past_the_timeout_is_cancelled_and_answers_service_unavailable() {
    let app = TestApp::spawn_with(|c| c.db_statement_timeout_secs = 1).await;
    let (_, s) = app.user("slow-statement").await;
    let project = app.create_project(&s.access, "locked").await;
    let read = "query($id: ID!) { project(id: $id) { name } }";
    let database = app.database_url.rsplit('/').next().unwrap().to_string();

    // A table locked by another session makes the server's read wait: the stand-in for
    // a statement that runs too long.
    let side = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let mut lock = side.begin().await.unwrap();
    sqlx::query("LOCK TABLE projects IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let started = Instant::now();
    let (_, body) = app
        .gql_raw(Some(&s.access), read, json!({ "id": project }))
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("SERVICE_UNAVAILABLE"),
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("took too long"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cancelled near its 1 s limit"
    );
    // PostgreSQL stopped the statement: nothing of the server's still waits on the lock.
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
    )
    .bind(&database)
    .fetch_one(&side)
    .await
    .unwrap();
    assert_eq!(waiting, 0);

    lock.rollback().await.unwrap();
    let data = app
        .gql(Some(&s.access), read, json!({ "id": project }))
        .await;
    assert_eq!(data["project"]["name"], "locked");
}

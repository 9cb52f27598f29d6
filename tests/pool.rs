//! The connection pool (`db::pool`) on a real PostgreSQL: what it takes back at once, what
//! it checks first, and its bounds.

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use maestro::db::{self, Db};
use sqlx::{Connection, PgConnection};

async fn pool(app: &TestApp, size: u32, wait: Duration) -> Db {
    db::connect(&app.database_url, size, wait, None)
        .await
        .expect("a pool")
}

async fn backend(db: &Db) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(db)
        .await
        .expect("a backend")
}

/// Polls `done` every 20 ms for at most `limit`.
async fn eventually(limit: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_statement_run_to_its_end_gives_its_connection_back_without_a_round_trip() {
    let app = TestApp::spawn().await;
    let db = pool(&app, 4, Duration::from_secs(5)).await;
    let first = backend(&db).await;
    let checks = db.checks();
    for n in 0..20 {
        assert_eq!(
            backend(&db).await,
            first,
            "the same warm connection each time"
        );
        let rows: Vec<i32> = sqlx::query_scalar("SELECT generate_series(1, $1)")
            .bind(n)
            .fetch_all(&db)
            .await
            .unwrap();
        assert_eq!(rows, (1..=n).collect::<Vec<_>>());
        let done = sqlx::query("SELECT 1").execute(&db).await.unwrap();
        assert_eq!(done.rows_affected(), 1);
    }
    // sqlx's own pool pinged on every release: 60 round trips here.
    assert_eq!(db.checks(), checks, "a settled statement costs no check");
    assert_eq!(
        db.size(),
        1,
        "statements one after another share one connection"
    );
}

#[tokio::test]
async fn a_statement_cut_short_is_finished_and_checked_before_its_connection_serves_again() {
    let app = TestApp::spawn().await;
    let db = pool(&app, 1, Duration::from_secs(10)).await;
    let checks = db.checks();
    let cut = tokio::time::timeout(
        Duration::from_millis(100),
        sqlx::query_scalar::<_, i32>("SELECT 1 FROM pg_sleep(1)").fetch_one(&db),
    )
    .await;
    assert!(cut.is_err(), "the statement was cut short");
    assert_eq!(
        db.checks(),
        checks + 1,
        "its connection is checked on the way back"
    );
    // The one connection answers the next statement, not the rest of the cut one.
    let answer: i32 = sqlx::query_scalar("SELECT 7").fetch_one(&db).await.unwrap();
    assert_eq!(answer, 7);
    assert_eq!(db.size(), 1);
}

#[tokio::test]
async fn a_transaction_dropped_uncommitted_lets_its_locks_go_without_waiting_for_reuse() {
    let app = TestApp::spawn().await;
    let db = pool(&app, 2, Duration::from_secs(5)).await;
    {
        let mut conn = db.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("SELECT pg_advisory_xact_lock(4242)")
            .execute(&mut *tx)
            .await
            .unwrap();
        // Dropped here: sqlx only queues its ROLLBACK; nobody uses this pool again below.
    }
    let mut other = PgConnection::connect(&app.database_url).await.unwrap();
    let released = eventually(Duration::from_secs(3), async || {
        sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock(4242)")
            .fetch_one(&mut other)
            .await
            .unwrap()
    })
    .await;
    assert!(released, "the dropped transaction still holds its lock");
    assert!(
        eventually(Duration::from_secs(3), async || db.num_idle() == 1).await,
        "the connection came back to the pool"
    );
    assert_eq!(db.size(), 1);
}

#[tokio::test]
async fn a_caller_waits_at_most_the_acquire_timeout_when_every_connection_is_taken() {
    let app = TestApp::spawn().await;
    let wait = Duration::from_millis(300);
    let db = pool(&app, 2, wait).await;
    let a = db.acquire().await.unwrap();
    let _b = db.acquire().await.unwrap();
    assert_eq!(db.size(), 2);
    let started = Instant::now();
    let refused = db.acquire().await.err().expect("no third connection");
    assert!(matches!(refused, sqlx::Error::PoolTimedOut), "{refused}");
    assert!(started.elapsed() >= wait);
    drop(a);
    let mut c = db.acquire().await.expect("the connection given back");
    let answer: i32 = sqlx::query_scalar("SELECT 3")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(answer, 3);
    assert_eq!(db.size(), 2, "never more than the pool's size");
}

#[tokio::test]
async fn a_connection_killed_under_the_pool_is_never_handed_out_again() {
    let app = TestApp::spawn().await;
    let db = pool(&app, 4, Duration::from_secs(5)).await;
    let killed = backend(&db).await;
    let mut admin = PgConnection::connect(&app.database_url).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(killed)
        .execute(&mut admin)
        .await
        .unwrap();
    let gone = eventually(Duration::from_secs(3), async || {
        sqlx::query_scalar::<_, bool>(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)",
        )
        .bind(killed)
        .fetch_one(&mut admin)
        .await
        .unwrap()
    })
    .await;
    assert!(gone, "the backend did not exit");
    // Used within a second of its last statement, it is not checked first: this statement
    // may fail (reads are run once more above the pool, see tests/outages.rs).
    let _ = sqlx::query("SELECT 1").execute(&db).await;
    for _ in 0..5 {
        assert_ne!(backend(&db).await, killed);
    }
}

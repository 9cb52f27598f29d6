//! The pool of PostgreSQL connections every statement runs on.
//!
//! sqlx's own pool sends a ping (a round trip to PostgreSQL) each time a connection is
//! taken back, whatever the statement left behind, and hands the connection back from a
//! task of its own: with the one or two statements of a small read, that was a third of
//! the round trips and of the wake-ups on both sides. This pool takes a connection back at
//! once when its statement ran to the end, and checks it first (flushing what is queued
//! on it, a dropped transaction's `ROLLBACK` among it) only when something may be left:
//! a statement cut short, an error, a transaction, or a connection taken with `acquire`
//! for several statements.
//!
//! At most `size` connections are open; a caller waits at most `acquire_timeout` for one,
//! then gets `PoolTimedOut` (SERVICE_UNAVAILABLE). Idle connections are reused last in,
//! first out, and checked before use when they have idled a while or a connection was
//! lost lately (`worth_checking`). A connection idle for `IDLE_CLOSE_AFTER` is closed
//! instead of used.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::postgres::{PgConnectOptions, PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{ConnectOptions, Connection, Either, Execute, Executor, PgConnection, Postgres};
use tokio::sync::Semaphore;

/// An idle connection unused this long is closed rather than handed out.
pub const IDLE_CLOSE_AFTER: Duration = Duration::from_secs(600);
/// How long a connection may take to flush and answer its check when taken back.
const CHECK_BUDGET: Duration = Duration::from_secs(5);
/// First wait before connecting again while PostgreSQL refuses connections.
const FIRST_RETRY: Duration = Duration::from_millis(20);

/// An idle connection this long unused is checked before it is handed out: PostgreSQL may
/// have restarted, or the network dropped, since it was last seen working.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);
/// After a statement lost its connection, every connection is checked for this long: the
/// others from before a restart are dead too, and a read run once more must get a live one.
const CHECK_ALL_AFTER_LOSS: Duration = Duration::from_secs(10);

/// When a statement last lost its connection, in milliseconds since the UNIX epoch (0:
/// never). Process-wide: at worst it makes every pool check its connections for a while.
static CONNECTION_LOST_AT_MS: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Records that a statement's connection broke (see `error::database_fault`), so that
/// connections are checked before use until the pool holds live ones again.
pub fn note_lost_connection() {
    CONNECTION_LOST_AT_MS.store(now_ms(), Ordering::Relaxed);
}

/// Whether an idle connection is pinged before it is handed out.
///
/// A ping before each use was a round trip besides each request's one or two statements
/// (a model read answered 20–25% more requests a second without it). A connection taken
/// back moments ago was alive then; it is checked only when it has idled a while or when a
/// connection was lost lately. What this leaves: a connection killed within a second of
/// its last use fails its next statement; reads (and the credential check) are then run
/// once more on a checked connection, a write answers SERVICE_UNAVAILABLE
/// "connection lost; retry shortly" without having run.
fn worth_checking(idle_for: Duration) -> bool {
    idle_for >= CHECK_IDLE_AFTER
        || now_ms().saturating_sub(CONNECTION_LOST_AT_MS.load(Ordering::Relaxed))
            < CHECK_ALL_AFTER_LOSS.as_millis() as u64
}

/// A shared handle on the pool (cloning it is one reference count).
#[derive(Clone)]
pub struct Db {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("size", &self.shared.size)
            .field("open", &self.size())
            .field("idle", &self.num_idle())
            .finish()
    }
}

struct Shared {
    options: PgConnectOptions,
    /// Connections open at most.
    size: u32,
    acquire_timeout: Duration,
    /// One permit per connection that may be handed out.
    permits: Semaphore,
    /// Last in, first out: a connection used a moment ago is warm and known alive.
    idle: Mutex<Vec<Idle>>,
    /// Connections open, idle or handed out.
    open: AtomicU32,
    /// Connections checked (pinged) so far, before use or when taken back.
    checks: AtomicU64,
}

struct Idle {
    conn: PgConnection,
    since: Instant,
}

impl Db {
    /// A pool of at most `size` connections to `options`, with one connection opened now
    /// (so that a wrong address or password fails here, not on the first request).
    pub async fn connect(
        options: PgConnectOptions,
        size: u32,
        acquire_timeout: Duration,
    ) -> Result<Db, sqlx::Error> {
        let size = size.max(1);
        let first = options.connect().await?;
        let db = Db {
            shared: Arc::new(Shared {
                options,
                size,
                acquire_timeout,
                permits: Semaphore::new(size as usize),
                idle: Mutex::new(Vec::with_capacity(size as usize)),
                open: AtomicU32::new(1),
                checks: AtomicU64::new(0),
            }),
        };
        db.shared.put_back(first);
        Ok(db)
    }

    /// A connection of its own for several statements (a transaction: `conn.begin()`).
    /// It is checked when it comes back, so whatever it leaves is flushed first.
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        let deadline = Instant::now() + self.shared.acquire_timeout;
        let permit = tokio::time::timeout_at(deadline.into(), self.shared.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        permit.forget();
        // From here the permit is the guard's: dropped early, it is given back.
        let mut guard = Conn {
            conn: None,
            shared: self.shared.clone(),
            settled: false,
        };
        guard.conn = Some(self.shared.open_or_reuse(deadline).await?);
        Ok(guard)
    }

    /// Connections open at most.
    pub fn max_size(&self) -> u32 {
        self.shared.size
    }

    /// Connections open now, idle or in use.
    pub fn size(&self) -> u32 {
        self.shared.open.load(Ordering::Relaxed)
    }

    /// How many times a connection was checked with a round trip of its own, before use
    /// or when taken back (what `tests/pool.rs` holds to none for settled statements).
    pub fn checks(&self) -> u64 {
        self.shared.checks.load(Ordering::Relaxed)
    }

    /// Connections idle now.
    pub fn num_idle(&self) -> usize {
        self.shared.idle_list().len()
    }
}

impl Shared {
    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().expect("pool lock")
    }

    /// An idle connection that is (or, when not worth checking, was a moment ago) alive,
    /// or a new one.
    async fn open_or_reuse(&self, deadline: Instant) -> Result<PgConnection, sqlx::Error> {
        loop {
            let idle = self.idle_list().pop();
            let Some(Idle { mut conn, since }) = idle else {
                break;
            };
            let idled = since.elapsed();
            if idled >= IDLE_CLOSE_AFTER {
                self.forget_one();
                let _ = tokio::time::timeout(CHECK_BUDGET, conn.close()).await;
                continue;
            }
            if !worth_checking(idled) {
                return Ok(conn);
            }
            self.checks.fetch_add(1, Ordering::Relaxed);
            match tokio::time::timeout_at(deadline.into(), conn.ping()).await {
                Ok(Ok(())) => return Ok(conn),
                Ok(Err(_)) => self.forget_one(), // dead: dropping it closes the socket
                Err(_) => {
                    self.forget_one();
                    return Err(sqlx::Error::PoolTimedOut);
                }
            }
        }
        self.open_new(deadline).await
    }

    /// A new connection, tried again while PostgreSQL refuses or is starting, until
    /// `deadline`.
    async fn open_new(&self, deadline: Instant) -> Result<PgConnection, sqlx::Error> {
        let mut wait = FIRST_RETRY;
        loop {
            match tokio::time::timeout_at(deadline.into(), self.options.connect()).await {
                Err(_) => return Err(sqlx::Error::PoolTimedOut),
                Ok(Ok(conn)) => {
                    self.open.fetch_add(1, Ordering::Relaxed);
                    return Ok(conn);
                }
                Ok(Err(e)) if worth_retrying(&e) => {
                    if Instant::now() + wait >= deadline {
                        return Err(sqlx::Error::PoolTimedOut);
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(1));
                }
                Ok(Err(e)) => return Err(e),
            }
        }
    }

    fn put_back(&self, conn: PgConnection) {
        self.idle_list().push(Idle {
            conn,
            since: Instant::now(),
        });
    }

    fn forget_one(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// Takes a connection back: at once when its statement ran to the end and nothing is
    /// queued on it; otherwise after it flushed and answered a check, from a task of its
    /// own (or never, when it fails or no runtime is left to run the check).
    fn take_back(self: &Arc<Self>, conn: PgConnection, settled: bool) {
        if settled && !conn.should_flush() && !conn.is_in_transaction() {
            self.put_back(conn);
            self.permits.add_permits(1);
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.forget_one();
            self.permits.add_permits(1);
            return;
        };
        let shared = self.clone();
        self.checks.fetch_add(1, Ordering::Relaxed);
        runtime.spawn(async move {
            let mut conn = conn;
            let alive = matches!(
                tokio::time::timeout(CHECK_BUDGET, conn.ping()).await,
                Ok(Ok(()))
            );
            if alive && !conn.is_in_transaction() {
                shared.put_back(conn);
            } else {
                shared.forget_one();
            }
            shared.permits.add_permits(1);
        });
    }
}

/// Whether connecting again may succeed soon: the server refused or reset the connection,
/// is starting up, or has no connection slot free.
fn worth_retrying(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("57P03" | "53300")),
        _ => false,
    }
}

/// A connection handed out; it goes back to the pool when dropped.
pub struct Conn {
    conn: Option<PgConnection>,
    shared: Arc<Shared>,
    /// Its last statement ran to the end: nothing is left on it to flush or read.
    settled: bool,
}

impl Conn {
    /// Begins a transaction on this connection (rolled back when dropped uncommitted; the
    /// pool flushes that before the connection serves anyone else).
    pub async fn begin(&mut self) -> Result<sqlx::Transaction<'_, Postgres>, sqlx::Error> {
        Connection::begin(&mut **self).await
    }

    /// Takes the connection out of the pool for good (for settings no other statement may
    /// inherit); the pool may open another in its place.
    pub fn detach(mut self) -> PgConnection {
        let conn = self.conn.take().expect("a connection until dropped");
        self.shared.forget_one();
        conn
    }
}

impl Deref for Conn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        self.conn.as_ref().expect("a connection until dropped")
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("a connection until dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        match self.conn.take() {
            Some(conn) => self.shared.take_back(conn, self.settled),
            None => self.shared.permits.add_permits(1),
        }
    }
}

/// Runs one statement on a connection of its own, taken back without a check when the
/// statement ran to its end (and checked first otherwise: see `Shared::take_back`).
async fn settled<T>(
    db: &Db,
    statement: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    let mut conn = db.acquire().await?;
    let answer = statement(&mut conn).await?;
    conn.settled = true;
    Ok(answer)
}

impl<'p> Executor<'p> for &'_ Db {
    type Database = Postgres;

    /// Runs on a connection of its own and yields what it answered once it ran to the end
    /// (the rows are gathered first). A caller that streams rows it cannot hold at once
    /// takes a connection with `acquire` and streams on it.
    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let db = self.clone();
        futures_util::stream::once(async move {
            let answered: Vec<_> =
                settled(&db, async |c| c.fetch_many(query).try_collect().await).await?;
            Ok::<_, sqlx::Error>(futures_util::stream::iter(answered.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let db = self.clone();
        Box::pin(async move { settled(&db, async |c| c.fetch_optional(query).await).await })
    }

    fn fetch_all<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Vec<PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let db = self.clone();
        Box::pin(async move { settled(&db, async |c| c.fetch_all(query).await).await })
    }

    fn execute<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<PgQueryResult, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let db = self.clone();
        Box::pin(async move { settled(&db, async |c| c.execute(query).await).await })
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        let db = self.clone();
        Box::pin(async move { settled(&db, async |c| c.prepare_with(sql, parameters).await).await })
    }

    fn describe<'e>(
        self,
        sql: sqlx::SqlStr,
    ) -> BoxFuture<'e, Result<sqlx::Describe<Postgres>, sqlx::Error>>
    where
        'p: 'e,
    {
        let db = self.clone();
        Box::pin(async move { settled(&db, async |c| c.describe(sql).await).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_idle_connections_or_those_after_a_loss_are_checked() {
        assert!(worth_checking(CHECK_IDLE_AFTER));
        assert!(worth_checking(Duration::from_secs(3600)));
        // The one test that notes a lost connection: until then, fresh connections pass.
        assert!(!worth_checking(Duration::from_millis(5)));
        note_lost_connection();
        assert!(
            worth_checking(Duration::ZERO),
            "every connection is checked after a loss"
        );
    }
}

//! Logging with `tracing` (human-readable or JSON lines), and an optional per-request
//! count of SQL statements for the N+1 tests and for diagnosing slow queries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, filter};

tokio::task_local! {
    /// The statement counter of the request being executed, when counting is on.
    pub static SQL_STATEMENTS: Arc<AtomicU64>;
}

/// Counts sqlx's per-statement events into the current request's counter.
struct SqlCounter;

impl<S: Subscriber> Layer<S> for SqlCounter {
    fn on_event(&self, _event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let _ = SQL_STATEMENTS.try_with(|n| n.fetch_add(1, Ordering::Relaxed));
    }
}

/// Installs the global subscriber once; later calls (tests) are no-ops. `filter` defaults
/// to `RUST_LOG`, else `info`. With `count_sql`, every statement sqlx runs is counted.
pub fn init(json: bool, count_sql: bool, filter: Option<&str>) {
    let env_filter = match filter {
        Some(f) => EnvFilter::new(f),
        None => {
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"))
        }
    };
    // Colours only on a terminal: a log file or a collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let fmt = if json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let counter = count_sql.then(|| {
        SqlCounter
            .with_filter(filter::Targets::new().with_target("sqlx::query", tracing::Level::TRACE))
    });
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(env_filter))
        .with(counter)
        .try_init();
}

//! Whether PostgreSQL answers, watched by one background task on a connection of its own.
//!
//! During an outage every request would otherwise wait out the pool's acquire timeout
//! (the pool keeps retrying refused connections until then). With the outage known, the
//! HTTP edge answers SERVICE_UNAVAILABLE at once, and readiness says so.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

/// How often the watcher pings the database.
pub const INTERVAL: Duration = Duration::from_millis(500);
/// How long a connect or ping may take before the database counts as down.
pub const BUDGET: Duration = Duration::from_secs(2);

/// Shared by every request: `true` while the last ping failed.
#[derive(Clone, Default)]
pub struct DbHealth {
    down: Arc<AtomicBool>,
}

impl DbHealth {
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Resolves once the watcher finds the database down (at once if it is now).
    pub async fn went_down(&self) {
        while !self.is_down() {
            tokio::time::sleep(INTERVAL).await;
        }
    }

    fn set_down(&self, down: bool) {
        if self.down.swap(down, Ordering::Relaxed) != down {
            if down {
                tracing::error!("the database does not answer: requests fail fast until it does");
            } else {
                tracing::info!("the database answers again");
            }
        }
    }

    /// Pings the database every `INTERVAL` until the task is aborted.
    pub fn watch(&self, url: &str) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let options = PgConnectOptions::from_str(url)?.disable_statement_logging();
        let health = self.clone();
        Ok(tokio::spawn(async move {
            let mut conn: Option<PgConnection> = None;
            let mut tick = tokio::time::interval(INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let ok = match conn.as_mut() {
                    Some(c) => matches!(tokio::time::timeout(BUDGET, c.ping()).await, Ok(Ok(()))),
                    None => match tokio::time::timeout(BUDGET, options.connect()).await {
                        Ok(Ok(c)) => {
                            conn = Some(c);
                            true
                        }
                        _ => false,
                    },
                };
                if !ok {
                    conn = None;
                }
                health.set_down(!ok);
            }
        }))
    }
}

//! Short-lived shared state: the access-token denylist and rate-limit counters.
//!
//! Redis when `REDIS_URL` is set (required for more than one instance); otherwise an
//! in-process map with the same semantics, fit for a single instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

use crate::error::{AppError, AppResult};

#[derive(Clone)]
pub enum Cache {
    Redis {
        conn: ConnectionManager,
        prefix: String,
    },
    Memory(Arc<Mutex<HashMap<String, Entry>>>),
}

#[derive(Clone, Copy)]
pub struct Entry {
    count: u64,
    expires: Instant,
}

/// A counter's state within its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub count: u64,
    /// Seconds until the window ends and the counter is forgotten.
    pub resets_in_secs: u64,
}

fn unavailable(err: redis::RedisError) -> AppError {
    tracing::error!(error = %err, "redis unavailable");
    AppError::Unavailable("the cache is unavailable; retry shortly".into())
}

impl Cache {
    pub async fn connect(url: Option<&str>, prefix: &str) -> anyhow::Result<Self> {
        match url {
            None => Ok(Cache::Memory(Arc::default())),
            Some(url) => {
                let client = redis::Client::open(url)?;
                let conn = ConnectionManager::new(client).await?;
                Ok(Cache::Redis {
                    conn,
                    prefix: prefix.to_string(),
                })
            }
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Cache::Redis { .. } => "redis",
            Cache::Memory(_) => "in-process",
        }
    }

    /// Answers whether the backing store responds.
    pub async fn ping(&self) -> bool {
        match self {
            Cache::Redis { conn, .. } => {
                let mut conn = conn.clone();
                let pong: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
                pong.is_ok()
            }
            Cache::Memory(_) => true,
        }
    }

    /// Sets a flag that disappears after `ttl`.
    pub async fn set_flag(&self, key: &str, ttl: Duration) -> AppResult<()> {
        let secs = ttl.as_secs().max(1);
        match self {
            Cache::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                redis::cmd("SET")
                    .arg(format!("{prefix}{key}"))
                    .arg(1)
                    .arg("EX")
                    .arg(secs)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(unavailable)
            }
            Cache::Memory(map) => {
                let mut map = map.lock().expect("cache lock");
                prune(&mut map);
                map.insert(
                    key.to_string(),
                    Entry {
                        count: 1,
                        expires: Instant::now() + Duration::from_secs(secs),
                    },
                );
                Ok(())
            }
        }
    }

    /// Whether any of the flags is set.
    pub async fn any_flag(&self, keys: &[String]) -> AppResult<bool> {
        match self {
            Cache::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let mut cmd = redis::cmd("EXISTS");
                for key in keys {
                    cmd.arg(format!("{prefix}{key}"));
                }
                let n: u64 = cmd.query_async(&mut conn).await.map_err(unavailable)?;
                Ok(n > 0)
            }
            Cache::Memory(map) => {
                let map = map.lock().expect("cache lock");
                let now = Instant::now();
                Ok(keys
                    .iter()
                    .any(|k| map.get(k).is_some_and(|e| e.expires > now)))
            }
        }
    }

    /// Adds one to a fixed-window counter that starts with its first hit.
    pub async fn hit(&self, key: &str, window: Duration) -> AppResult<WindowCount> {
        let secs = window.as_secs().max(1);
        match self {
            Cache::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let key = format!("{prefix}{key}");
                let (count, ttl): (u64, i64) = redis::pipe()
                    .atomic()
                    .cmd("INCR")
                    .arg(&key)
                    .cmd("EXPIRE")
                    .arg(&key)
                    .arg(secs)
                    .arg("NX")
                    .ignore()
                    .cmd("TTL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                Ok(WindowCount {
                    count,
                    resets_in_secs: ttl.max(1) as u64,
                })
            }
            Cache::Memory(map) => {
                let mut map = map.lock().expect("cache lock");
                prune(&mut map);
                let now = Instant::now();
                let entry = map
                    .entry(key.to_string())
                    .and_modify(|e| {
                        if e.expires <= now {
                            *e = Entry {
                                count: 0,
                                expires: now + Duration::from_secs(secs),
                            };
                        }
                    })
                    .or_insert(Entry {
                        count: 0,
                        expires: now + Duration::from_secs(secs),
                    });
                entry.count += 1;
                Ok(memory_count(entry, now))
            }
        }
    }

    /// Reads a counter without changing it; zero when absent.
    pub async fn peek(&self, key: &str) -> AppResult<WindowCount> {
        match self {
            Cache::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let key = format!("{prefix}{key}");
                let (count, ttl): (Option<u64>, i64) = redis::pipe()
                    .cmd("GET")
                    .arg(&key)
                    .cmd("TTL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                Ok(WindowCount {
                    count: count.unwrap_or(0),
                    resets_in_secs: ttl.max(0) as u64,
                })
            }
            Cache::Memory(map) => {
                let map = map.lock().expect("cache lock");
                let now = Instant::now();
                Ok(match map.get(key) {
                    Some(e) if e.expires > now => memory_count(e, now),
                    _ => WindowCount {
                        count: 0,
                        resets_in_secs: 0,
                    },
                })
            }
        }
    }
}

fn memory_count(entry: &Entry, now: Instant) -> WindowCount {
    let left = entry.expires.saturating_duration_since(now);
    WindowCount {
        count: entry.count,
        resets_in_secs: left.as_secs_f64().ceil() as u64,
    }
}

/// Drops expired entries once the map grows, so memory stays bounded by live keys.
fn prune(map: &mut HashMap<String, Entry>) {
    if map.len() > 10_000 {
        let now = Instant::now();
        map.retain(|_, e| e.expires > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_counter_counts_within_its_window() {
        let cache = Cache::Memory(Arc::default());
        let w = Duration::from_secs(60);
        assert_eq!(cache.hit("k", w).await.unwrap().count, 1);
        assert_eq!(cache.hit("k", w).await.unwrap().count, 2);
        let peek = cache.peek("k").await.unwrap();
        assert_eq!(peek.count, 2);
        assert!(peek.resets_in_secs > 0 && peek.resets_in_secs <= 60);
        assert_eq!(cache.peek("other").await.unwrap().count, 0);
    }

    #[tokio::test]
    async fn memory_flags_are_seen_until_they_expire() {
        let cache = Cache::Memory(Arc::default());
        assert!(!cache.any_flag(&["a".into()]).await.unwrap());
        cache.set_flag("a", Duration::from_secs(60)).await.unwrap();
        assert!(cache.any_flag(&["b".into(), "a".into()]).await.unwrap());
    }
}

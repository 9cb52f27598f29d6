//! Short-lived shared state: the rate-limit counters (sign-in failures, registrations).
//!
//! Redis when `REDIS_URL` is set (what more than one instance needs), always backed by an
//! in-process map with the same semantics. Nothing here is a record: counters are allowed
//! to forget (revocation lives in PostgreSQL alone, read with every request's user). So a
//! Redis that is down, slow or flushed degrades the service instead of stopping it: every
//! Redis call has a budget of `CALL_BUDGET`, and after a failure a circuit breaker sends
//! calls straight to the in-process map for `COOL_DOWN` before one call probes Redis again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// The longest any request waits on Redis for one call.
pub const CALL_BUDGET: Duration = Duration::from_millis(50);
/// How long calls bypass Redis after it failed, before one call probes it again.
pub const COOL_DOWN: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Cache {
    memory: Memory,
    redis: Option<Arc<Redis>>,
}

struct Redis {
    conn: ConnectionManager,
    prefix: String,
    breaker: Breaker,
    /// Calls sent to Redis.
    calls: AtomicU64,
    /// Calls served in-process instead (Redis failed, was slow, or the breaker was open).
    fallbacks: AtomicU64,
}

/// What the cache has done since the process started, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub calls: u64,
    pub fallbacks: u64,
}

type Memory = Arc<Mutex<HashMap<String, Entry>>>;

#[derive(Clone, Copy)]
struct Entry {
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

/// The cache's health as readiness reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheHealth {
    /// Redis answers (or none is configured: the in-process map always does).
    Up,
    /// Redis is configured and does not answer: the in-process fallback serves.
    Degraded,
}

impl Cache {
    /// The in-process cache of a single instance.
    pub fn in_process() -> Self {
        Cache {
            memory: Memory::default(),
            redis: None,
        }
    }

    /// Redis at `url` (connected lazily, so a Redis that is down at start only degrades the
    /// service), or the in-process map when `url` is `None`.
    pub fn connect(url: Option<&str>, prefix: &str) -> anyhow::Result<Self> {
        let Some(url) = url else {
            return Ok(Self::in_process());
        };
        let conn = lazy_connection(redis::Client::open(url)?)?;
        Ok(Cache {
            memory: Memory::default(),
            redis: Some(Arc::new(Redis {
                conn,
                prefix: prefix.to_string(),
                breaker: Breaker::default(),
                calls: AtomicU64::new(0),
                fallbacks: AtomicU64::new(0),
            })),
        })
    }

    pub fn backend_name(&self) -> &'static str {
        match self.redis {
            Some(_) => "redis",
            None => "in-process",
        }
    }

    /// How many calls went to Redis and how many fell back to the process.
    pub fn stats(&self) -> CacheStats {
        self.redis
            .as_ref()
            .map(|r| CacheStats {
                calls: r.calls.load(Ordering::Relaxed),
                fallbacks: r.fallbacks.load(Ordering::Relaxed),
            })
            .unwrap_or_default()
    }

    /// The health as the last call found it, without asking Redis.
    pub fn health_now(&self) -> CacheHealth {
        match &self.redis {
            Some(redis) if redis.breaker.is_open() => CacheHealth::Degraded,
            _ => CacheHealth::Up,
        }
    }

    /// Asks Redis whether it answers (bypassing the breaker, and closing it on success).
    pub async fn health(&self) -> CacheHealth {
        let Some(redis) = &self.redis else {
            return CacheHealth::Up;
        };
        let mut conn = redis.conn.clone();
        let ping = tokio::time::timeout(CALL_BUDGET, async move {
            redis::cmd("PING").query_async::<String>(&mut conn).await
        })
        .await;
        if matches!(ping, Ok(Ok(_))) {
            redis.breaker.succeeded();
            CacheHealth::Up
        } else {
            redis.breaker.failed();
            CacheHealth::Degraded
        }
    }

    /// Adds one to a fixed-window counter that starts with its first hit.
    pub async fn hit(&self, key: &str, window: Duration) -> WindowCount {
        let secs = window.as_secs().max(1);
        if let Some(redis) = &self.redis {
            let full = redis.key(key);
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("INCR")
                .arg(&full)
                .cmd("EXPIRE")
                .arg(&full)
                .arg(secs)
                .arg("NX")
                .ignore()
                .cmd("TTL")
                .arg(&full);
            if let Some((count, ttl)) = redis.pipe::<(u64, i64)>(pipe).await {
                return WindowCount {
                    count,
                    resets_in_secs: ttl.max(1) as u64,
                };
            }
        }
        let mut map = self.memory.lock().expect("cache lock");
        prune(&mut map);
        let now = Instant::now();
        let fresh = Entry {
            count: 0,
            expires: now + Duration::from_secs(secs),
        };
        let entry = map.entry(key.to_string()).or_insert(fresh);
        if entry.expires <= now {
            *entry = fresh;
        }
        entry.count += 1;
        memory_count(entry, now)
    }

    /// Reads a counter without changing it; zero when absent.
    pub async fn peek(&self, key: &str) -> WindowCount {
        if let Some(redis) = &self.redis {
            let full = redis.key(key);
            let mut pipe = redis::pipe();
            pipe.cmd("GET").arg(&full).cmd("TTL").arg(&full);
            if let Some((count, ttl)) = redis.pipe::<(Option<u64>, i64)>(pipe).await {
                return WindowCount {
                    count: count.unwrap_or(0),
                    resets_in_secs: ttl.max(0) as u64,
                };
            }
        }
        let map = self.memory.lock().expect("cache lock");
        let now = Instant::now();
        match map.get(key) {
            Some(e) if e.expires > now => memory_count(e, now),
            _ => WindowCount {
                count: 0,
                resets_in_secs: 0,
            },
        }
    }
}

/// A Redis connection made on first use, whose every call gives up after `CALL_BUDGET`
/// (shared by the cache and the event bus).
pub fn lazy_connection(client: redis::Client) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CALL_BUDGET))
        .set_response_timeout(Some(CALL_BUDGET))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(client, config)
}

impl Redis {
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn pipe<T: redis::FromRedisValue + Send>(&self, pipe: redis::Pipeline) -> Option<T> {
        let mut conn = self.conn.clone();
        self.guarded(async move { pipe.query_async::<T>(&mut conn).await })
            .await
    }

    /// Runs one Redis call within the budget, unless the breaker is open; `None` means
    /// "use the fallback".
    async fn guarded<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
        if !self.breaker.allows() {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(CALL_BUDGET, call).await {
            Ok(Ok(value)) => {
                self.breaker.succeeded();
                Some(value)
            }
            Ok(Err(err)) => {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                if self.breaker.failed() {
                    tracing::warn!(error = %err, "redis failed: using in-process fallbacks");
                }
                None
            }
            Err(_) => {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                if self.breaker.failed() {
                    tracing::warn!("redis did not answer in time: using in-process fallbacks");
                }
                None
            }
        }
    }
}

/// A circuit breaker: closed until a call fails, then open for `COOL_DOWN`, after which one
/// caller probes (the others keep bypassing until the probe succeeds or its time is up).
#[derive(Default)]
struct Breaker {
    /// Milliseconds since `EPOCH` until which calls bypass Redis; 0 when closed.
    open_until: AtomicU64,
}

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_ms() -> u64 {
    // Never 0, so 0 can mean "closed".
    EPOCH.elapsed().as_millis() as u64 + 1
}

impl Breaker {
    fn allows(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        let now = now_ms();
        // Past the cool-down: the caller that moves the deadline on is the probe.
        now >= until
            && self
                .open_until
                .compare_exchange(
                    until,
                    now + COOL_DOWN.as_millis() as u64,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    fn succeeded(&self) {
        if self.open_until.swap(0, Ordering::AcqRel) != 0 {
            tracing::info!("redis answers again");
        }
    }

    /// Opens the breaker; returns whether it was closed (so the failure is news).
    fn failed(&self) -> bool {
        let was = self
            .open_until
            .swap(now_ms() + COOL_DOWN.as_millis() as u64, Ordering::AcqRel);
        was == 0
    }

    fn is_open(&self) -> bool {
        self.open_until.load(Ordering::Acquire) != 0
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
        let cache = Cache::in_process();
        let w = Duration::from_secs(60);
        assert_eq!(cache.hit("k", w).await.count, 1);
        assert_eq!(cache.hit("k", w).await.count, 2);
        let peek = cache.peek("k").await;
        assert_eq!(peek.count, 2);
        assert!(peek.resets_in_secs > 0 && peek.resets_in_secs <= 60);
        assert_eq!(cache.peek("other").await.count, 0);
    }

    #[test]
    fn the_breaker_opens_on_failure_and_lets_one_probe_through_after_the_cool_down() {
        let breaker = Breaker::default();
        assert!(breaker.allows());
        assert!(breaker.failed());
        assert!(!breaker.failed(), "a second failure is not news");
        assert!(!breaker.allows());
        // Pretend the cool-down has passed.
        breaker.open_until.store(1, Ordering::Release);
        assert!(breaker.allows(), "one probe");
        assert!(!breaker.allows(), "only one");
        breaker.succeeded();
        assert!(!breaker.is_open());
        assert!(breaker.allows());
    }

    #[tokio::test]
    async fn a_dead_redis_opens_the_breaker_and_the_fallback_serves() {
        // Nothing listens on port 1: connections are refused at once, or time out.
        let cache = Cache::connect(Some("redis://127.0.0.1:1"), "t:").unwrap();
        let redis = cache.redis.clone().unwrap();
        assert_eq!(cache.hit("k", Duration::from_secs(60)).await.count, 1);
        assert!(
            redis.breaker.is_open(),
            "the first failure opens the breaker"
        );
        assert!(!redis.breaker.allows(), "later calls bypass Redis");
        assert_eq!(cache.hit("k", Duration::from_secs(60)).await.count, 2);
        assert_eq!(cache.peek("k").await.count, 2);
        assert_eq!(cache.health().await, CacheHealth::Degraded);
    }
}

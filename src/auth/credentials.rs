//! Principals remembered between requests, forgotten the moment PostgreSQL says they changed.
//!
//! Reading the caller (their session or API token, their user row and their project roles)
//! was one statement on every request: for a small read such as a model, half of its
//! statements. A principal read once is kept here, by session or token, and used again
//! while all of these hold:
//!
//! - this process listens to PostgreSQL's `maestro_credentials` channel, where triggers
//!   (migration `20261207000001`) name the user of every revoked session or token, changed
//!   role, disabled account and membership change, after it commits, whoever wrote it: a
//!   mutation on this or another replica, a cascade, an operator's SQL. A notification
//!   forgets that user's principals. While the listening connection is down nothing is
//!   kept, and everything kept is forgotten, so a notification missed meanwhile cannot
//!   leave a stale principal behind;
//!   Listening counts only once the process has heard its own heartbeat come back through
//!   the channel (a `pg_notify` every `HEARTBEAT_EVERY` on the pool): a connection that
//!   LISTENs but never hears (a pooler in transaction mode between Maestro and
//!   PostgreSQL, a half-open TCP connection) keeps nothing, or stops keeping within
//!   `HEARTBEAT_EVERY` plus `HEARTBEAT_WAIT`;
//! - the principal was read at most `MAX_AGE` ago (a bound should a notification ever go
//!   astray, and what keeps an API token's `lastUsedAt` recorded);
//! - an API token's expiry has not passed (an access token's own is checked on every
//!   request with its signature).
//!
//! On this process a change is forgotten before its mutation answers (`forget_user`);
//! other replicas forget it when PostgreSQL delivers the notification, which it sends at
//! the commit, before the mutation's own connection hears that it committed.
//!
//! A read that began before a change and ends after it must not store what it read: each
//! read takes a `Ticket` (the count of forgettings so far) before its statement and stores
//! its principal only if nothing was forgotten meanwhile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::postgres::PgListener;
use uuid::Uuid;

use super::principal::Principal;
use crate::db::Db;
use crate::db::health::DbHealth;

/// The channel the triggers notify, with the user's id as the payload.
pub const CHANNEL: &str = "maestro_credentials";
/// How long a principal is used again at most before it is read anew.
pub const MAX_AGE: Duration = Duration::from_secs(10);
/// How many principals are kept at most; past it, the expired go, then all.
pub const CAPACITY: usize = 10_000;
/// First wait before listening again after the connection failed; doubles up to a second.
const FIRST_RETRY: Duration = Duration::from_millis(50);
/// How often the process sends itself a heartbeat through the channel.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// How long a heartbeat may take to come back before the listener counts as deaf.
pub const HEARTBEAT_WAIT: Duration = Duration::from_secs(1);
/// Payloads of heartbeats: `heartbeat <process nonce> <number>`.
const HEARTBEAT: &str = "heartbeat ";

/// What a principal was read by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A session, for access tokens minted for it.
    Session(Uuid),
    /// An API token, by the SHA-256 digest of its secret.
    ApiToken([u8; 32]),
}

/// Proof that nothing was forgotten since it was taken; see the module's notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

struct Entry {
    principal: Principal,
    read_at: Instant,
    /// An API token's expiry.
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct Kept {
    /// Whether this process hears the channel: nothing is kept otherwise.
    listening: bool,
    /// How many times something was forgotten (see `Ticket`).
    forgotten: u64,
    entries: HashMap<Key, Entry>,
}

/// The remembered principals of this process; cheap to clone (one shared set).
#[derive(Clone)]
pub struct Credentials {
    kept: Arc<Mutex<Kept>>,
    hits: Arc<AtomicU64>,
    reads: Arc<AtomicU64>,
    /// Tells this process's heartbeats from other processes' on the channel.
    nonce: Uuid,
    /// The number of the last heartbeat of this process heard back.
    heard: Arc<AtomicU64>,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            kept: Arc::default(),
            hits: Arc::default(),
            reads: Arc::default(),
            nonce: Uuid::new_v4(),
            heard: Arc::default(),
        }
    }
}

impl Credentials {
    fn kept(&self) -> MutexGuard<'_, Kept> {
        // A panic while holding the lock leaves nothing half-written worth refusing.
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The principal kept for `key`, if it may still be used.
    pub fn get(&self, key: &Key) -> Option<Principal> {
        let kept = self.kept();
        let entry = kept.entries.get(key).filter(|e| {
            kept.listening
                && e.read_at.elapsed() < MAX_AGE
                && e.expires_at.is_none_or(|at| at > Utc::now())
        })?;
        let principal = entry.principal.clone();
        drop(kept);
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(principal)
    }

    /// Taken before reading a principal from the database. While nothing may be kept,
    /// `keep` refuses it: starting to listen counts as a forgetting, so a ticket taken
    /// before that never matches after.
    pub fn ticket(&self) -> Ticket {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ticket(self.kept().forgotten)
    }

    /// Keeps a principal read under `ticket`, unless something was forgotten since.
    pub fn keep(
        &self,
        ticket: Ticket,
        key: Key,
        principal: &Principal,
        expires_at: Option<DateTime<Utc>>,
    ) {
        let mut kept = self.kept();
        if !kept.listening || kept.forgotten != ticket.0 {
            return;
        }
        if kept.entries.len() >= CAPACITY && !kept.entries.contains_key(&key) {
            kept.entries.retain(|_, e| e.read_at.elapsed() < MAX_AGE);
            if kept.entries.len() >= CAPACITY {
                kept.entries.clear();
            }
        }
        let entry = Entry {
            principal: principal.clone(),
            read_at: Instant::now(),
            expires_at,
        };
        kept.entries.insert(key, entry);
    }

    /// Forgets every principal of a user (their credentials or access changed).
    pub fn forget_user(&self, user_id: Uuid) {
        let mut kept = self.kept();
        kept.forgotten += 1;
        kept.entries.retain(|_, e| e.principal.user_id != user_id);
    }

    /// Forgets every principal (a change whose users are not named, such as a project's
    /// deletion with its memberships).
    pub fn forget_all(&self) {
        let mut kept = self.kept();
        kept.forgotten += 1;
        kept.entries.clear();
    }

    fn set_listening(&self, listening: bool) {
        let mut kept = self.kept();
        kept.forgotten += 1;
        kept.entries.clear();
        if kept.listening != listening {
            if listening {
                tracing::info!("listening for credential changes: principals are kept");
            } else {
                tracing::warn!(
                    "not listening for credential changes: every request reads its principal"
                );
            }
        }
        kept.listening = listening;
    }

    /// Requests answered from kept principals, and principals read from the database.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.reads.load(Ordering::Relaxed),
        )
    }

    /// How many principals are kept now.
    pub fn kept_count(&self) -> usize {
        self.kept().entries.len()
    }

    /// Listens to `CHANNEL` on a connection of its own until the task is aborted: forgets
    /// the users named, and keeps nothing until its heartbeats come back through the
    /// channel, nor while the connection is down, the heartbeats go unheard, or the
    /// database watcher says PostgreSQL is down.
    pub fn listen(&self, db: &Db, url: &str, health: &DbHealth) -> tokio::task::JoinHandle<()> {
        let credentials = self.clone();
        let health = health.clone();
        let db = db.clone();
        let url = url.to_string();
        tokio::spawn(async move {
            let mut retry = FIRST_RETRY;
            loop {
                match subscribe(&url).await {
                    Ok(listener) => {
                        retry = FIRST_RETRY;
                        let reason = tokio::select! {
                            reason = credentials.hear(listener) => reason,
                            reason = credentials.beat(&db) => reason,
                            () = health.went_down() => "the database is down".into(),
                        };
                        credentials.set_listening(false);
                        tracing::warn!(%reason, "stopped listening for credential changes");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for credential changes yet");
                    }
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(Duration::from_secs(1));
            }
        })
    }

    /// Handles one payload heard on the channel.
    fn heard(&self, payload: &str) {
        if let Some(beat) = payload.strip_prefix(HEARTBEAT) {
            // Other processes' heartbeats are theirs to hear.
            if let Some((nonce, number)) = beat.split_once(' ')
                && nonce.parse::<Uuid>() == Ok(self.nonce)
                && let Ok(number) = number.parse::<u64>()
            {
                self.heard.fetch_max(number, Ordering::Relaxed);
            }
            return;
        }
        match payload.parse::<Uuid>() {
            Ok(user_id) => self.forget_user(user_id),
            Err(_) => self.forget_all(),
        }
    }

    /// Hears the channel until the connection fails; returns why it stopped.
    async fn hear(&self, mut listener: PgListener) -> String {
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => self.heard(notification.payload()),
                Ok(None) => return "connection lost".into(),
                Err(e) => return e.to_string(),
            }
        }
    }

    /// Sends a heartbeat through the channel every `HEARTBEAT_EVERY`: the first one heard
    /// back starts keeping principals; one not heard back within `HEARTBEAT_WAIT` returns
    /// why (the listener is then dropped and opened again).
    async fn beat(&self, db: &Db) -> String {
        let mut number = self.heard.load(Ordering::Relaxed);
        loop {
            number += 1;
            let payload = format!("{HEARTBEAT}{} {number}", self.nonce);
            if let Err(e) = crate::db::channels::notify(db, CHANNEL, &payload).await {
                return format!("a heartbeat could not be sent: {e}");
            }
            let sent = Instant::now();
            while self.heard.load(Ordering::Relaxed) < number {
                if sent.elapsed() > HEARTBEAT_WAIT {
                    return "a heartbeat was not heard back".into();
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if !self.kept().listening {
                self.set_listening(true);
            }
            tokio::time::sleep(HEARTBEAT_EVERY).await;
        }
    }
}

async fn subscribe(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    // Reconnecting is ours to do: the principals kept meanwhile must be forgotten first.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::principal::Credential;
    use crate::db::users::UserRole;

    fn principal(user_id: Uuid) -> Principal {
        Principal {
            user_id,
            role: UserRole::Member,
            credential: Credential::Session {
                session_id: Uuid::new_v4(),
                jti: Uuid::new_v4(),
            },
            project_roles: Vec::new(),
        }
    }

    fn listening() -> Credentials {
        let credentials = Credentials::default();
        credentials.set_listening(true);
        credentials
    }

    #[test]
    fn a_principal_is_kept_only_while_listening() {
        let credentials = Credentials::default();
        let key = Key::Session(Uuid::new_v4());
        let early = credentials.ticket();
        credentials.keep(early, key, &principal(Uuid::new_v4()), None);
        assert_eq!(credentials.kept_count(), 0);
        credentials.set_listening(true);
        // A ticket taken before listening began is refused after.
        credentials.keep(early, key, &principal(Uuid::new_v4()), None);
        assert_eq!(credentials.kept_count(), 0);
        let ticket = credentials.ticket();
        credentials.keep(ticket, key, &principal(Uuid::new_v4()), None);
        assert!(credentials.get(&key).is_some());
        credentials.set_listening(false);
        assert!(credentials.get(&key).is_none());
        assert_eq!(credentials.kept_count(), 0);
    }

    #[test]
    fn a_read_that_overlapped_a_change_is_not_kept() {
        let credentials = listening();
        let key = Key::Session(Uuid::new_v4());
        let ticket = credentials.ticket();
        // A change to anyone lands while the read is under way.
        credentials.forget_user(Uuid::new_v4());
        credentials.keep(ticket, key, &principal(Uuid::new_v4()), None);
        assert!(credentials.get(&key).is_none());
    }

    #[test]
    fn forgetting_a_user_leaves_the_others() {
        let credentials = listening();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let (ka, kb) = (Key::Session(Uuid::new_v4()), Key::ApiToken([1; 32]));
        credentials.keep(credentials.ticket(), ka, &principal(a), None);
        credentials.keep(credentials.ticket(), kb, &principal(b), None);
        credentials.forget_user(a);
        assert!(credentials.get(&ka).is_none());
        assert_eq!(credentials.get(&kb).unwrap().user_id, b);
    }

    #[test]
    fn an_expired_api_token_is_not_used_again() {
        let credentials = listening();
        let key = Key::ApiToken([2; 32]);
        let past = Utc::now() - chrono::Duration::seconds(1);
        credentials.keep(
            credentials.ticket(),
            key,
            &principal(Uuid::new_v4()),
            Some(past),
        );
        assert!(credentials.get(&key).is_none());
    }

    #[test]
    fn heartbeats_are_told_from_changes() {
        let credentials = listening();
        let key = Key::Session(Uuid::new_v4());
        let user = Uuid::new_v4();
        credentials.keep(credentials.ticket(), key, &principal(user), None);
        // Another process's heartbeat and our own forget nothing; ours is counted.
        credentials.heard(&format!("{HEARTBEAT}{} 7", Uuid::new_v4()));
        credentials.heard(&format!("{HEARTBEAT}{} 3", credentials.nonce));
        assert_eq!(credentials.heard.load(Ordering::Relaxed), 3);
        assert!(credentials.get(&key).is_some());
        // A user's id forgets that user; a payload of no known form forgets everyone.
        credentials.heard(&Uuid::new_v4().to_string());
        assert!(credentials.get(&key).is_some());
        credentials.heard("something else");
        assert!(credentials.get(&key).is_none());
    }

    #[test]
    fn the_set_stays_within_its_capacity() {
        let credentials = listening();
        for i in 0..CAPACITY + 5 {
            let key = Key::Session(Uuid::from_u128(i as u128));
            credentials.keep(credentials.ticket(), key, &principal(Uuid::new_v4()), None);
        }
        assert!(credentials.kept_count() <= CAPACITY);
    }
}

//! What every request can reach: configuration, database, cache and signing keys.

use std::sync::Arc;

use crate::auth::credentials::Credentials;
use crate::auth::jwt::JwtKeys;
use crate::cache::Cache;
use crate::config::Config;
use crate::db::Db;
use crate::db::health::DbHealth;
use crate::events::Events;
use crate::metrics::Metrics;
use crate::storage::Storage;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    /// Whether the database answers, kept by a watcher task.
    pub db_health: DbHealth,
    pub cache: Cache,
    /// Live events for subscriptions, across processes through Redis when configured.
    pub events: Events,
    pub jwt: Arc<JwtKeys>,
    /// Principals read before, kept while PostgreSQL tells this process of every change.
    pub credentials: Credentials,
    pub storage: Storage,
    /// What this server counts and times, for `/metrics`.
    pub metrics: Metrics,
}

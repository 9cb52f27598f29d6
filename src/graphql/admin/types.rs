//! The audit log's events and the system's status, as ADMINs read them.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::principal::Principal;
use crate::db::audit::{AuditKind, EventRow};
use crate::db::system::Counts;
use crate::error::AppResult;
use crate::graphql::access::loader;
use crate::graphql::account::types::User;
use crate::graphql::context::principal;
use crate::graphql::loaders::UserKey;
use crate::graphql::project::query::visible_project;
use crate::graphql::project::types::Project;

/// One entry of the audit log.
pub struct AuditEvent(EventRow);

impl AuditEvent {
    /// Only an ADMIN reads the audit log.
    pub fn for_admin(row: EventRow, caller: &Principal) -> AppResult<Self> {
        caller.require_admin()?;
        Ok(AuditEvent(row))
    }
}

/// One entry of the audit log: who did what, to whom, where and when.
#[Object]
impl AuditEvent {
    /// The event's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// When it happened.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// What happened.
    async fn kind(&self) -> AuditKind {
        self.0.kind
    }
    /// Who did it (null for failed sign-ins and deleted accounts).
    async fn actor(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        account(ctx, self.0.actor_id).await
    }
    /// The email that acted or tried to (failed sign-ins name the email given).
    async fn actor_email(&self) -> Option<&str> {
        self.0.actor_email.as_deref()
    }
    /// The account acted upon, if any: the one whose role, membership or state changed,
    /// or whose sign-in failed.
    async fn subject(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        account(ctx, self.0.subject_id).await
    }
    /// The project it happened in, if any (null once the project is deleted).
    async fn project(&self, ctx: &Context<'_>) -> AppResult<Option<Project>> {
        match self.0.project_id {
            Some(id) => visible_project(ctx, id).await,
            None => Ok(None),
        }
    }
    /// What changed, in words: e.g. `role MEMBER → ADMIN`, `alias champion → version 3`.
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    /// The client's address as the server saw it (trusted proxies considered).
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
}

async fn account(ctx: &Context<'_>, id: Option<uuid::Uuid>) -> AppResult<Option<User>> {
    let Some(id) = id else { return Ok(None) };
    let p = principal(ctx)?;
    loader(ctx)
        .load_one(UserKey(id))
        .await?
        .map(|row| User::for_admin(row, p))
        .transpose()
}

/// Which audit events to list.
#[derive(InputObject, Default)]
pub struct AuditEventFilter {
    /// Only events this user did or that were done to them.
    pub user_id: Option<ID>,
    /// Only events of these kinds (all kinds when omitted or empty).
    pub kinds: Option<Vec<AuditKind>>,
}

/// A dependency's state.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    /// Answering.
    Up,
    /// Down, with in-process fallbacks serving (the cache only).
    Degraded,
    /// Not answering.
    Down,
}

/// The installation at a glance, for ADMINs.
#[derive(SimpleObject)]
pub struct SystemStatus {
    /// PostgreSQL.
    pub database: ServiceState,
    /// The cache (Redis, or in-process).
    pub cache: ServiceState,
    /// `redis` or `in-process`.
    pub cache_backend: String,
    /// The object store for artifacts.
    pub object_store: ServiceState,
    /// `s3` or `local-disk`.
    pub object_store_backend: String,
    /// This server's version.
    pub version: String,
    /// Seconds since this server started.
    pub uptime_seconds: i64,
    /// What the database holds; null while the database is down.
    pub counts: Option<Counts>,
}

/// Every field of an event is read by its resolver.
impl crate::graphql::direct::Leaves for AuditEvent {}

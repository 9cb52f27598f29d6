//! The audit log and the system's status (ADMIN only).

use async_graphql::{Context, Object};

use crate::cache::CacheHealth;
use crate::db;
use crate::error::AppResult;
use crate::graphql::admin::types::{AuditEvent, AuditEventFilter, ServiceState, SystemStatus};
use crate::graphql::connection::{
    CursorKey, Page, TotalCount, build_page, decode_id_cursor, page_size, wants_total,
};
use crate::graphql::context::{principal, state};
use crate::graphql::ids;
use crate::http::health;

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// The audit log (ADMIN only), newest first: sign-ins and failed sign-ins, password,
    /// role and membership changes, API tokens, disabled accounts, stage and alias moves.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
        #[graphql(desc = "Only events matching this.")] filter: Option<AuditEventFilter>,
    ) -> AppResult<Page<AuditEvent>> {
        let p = principal(ctx)?;
        p.require_admin()?;
        let limit = page_size(first)?;
        let before = decode_id_cursor(after.as_deref())?;
        let filter = filter.unwrap_or_default();
        let user = filter
            .user_id
            .as_ref()
            .map(|id| ids::parse("filter.userId", id))
            .transpose()?;
        let kinds = filter.kinds.unwrap_or_default();
        let db = &state(ctx).db;
        let rows = db::audit::page(db, user, &kinds, before, limit as i64 + 1).await?;
        let total = if wants_total(ctx) {
            db::audit::count(db, user, &kinds).await?
        } else {
            0
        };
        build_page(
            rows,
            limit,
            before.is_some(),
            TotalCount::Known(total),
            |e| CursorKey::Id(e.id),
            |row| AuditEvent::for_admin(row, p),
        )
    }

    /// The installation's state (ADMIN only): its dependencies, version, uptime and what
    /// the database holds.
    async fn system_status(&self, ctx: &Context<'_>) -> AppResult<SystemStatus> {
        principal(ctx)?.require_admin()?;
        let state = state(ctx);
        let checks = health::check(state).await;
        let up = |ok: bool| {
            if ok {
                ServiceState::Up
            } else {
                ServiceState::Down
            }
        };
        let counts = if checks.database {
            db::system::counts(&state.db).await.ok()
        } else {
            None
        };
        Ok(SystemStatus {
            database: up(checks.database),
            cache: match checks.cache {
                CacheHealth::Up => ServiceState::Up,
                CacheHealth::Degraded => ServiceState::Degraded,
            },
            cache_backend: state.cache.backend_name().into(),
            object_store: up(checks.object_store),
            object_store_backend: state.storage.backend_name().into(),
            version: env!("CARGO_PKG_VERSION").into(),
            uptime_seconds: state.metrics.uptime().as_secs() as i64,
            counts,
        })
    }
}

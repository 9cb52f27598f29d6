//! What ADMINs see of the whole installation: the audit log and the system's status.
//! `record` is how every other module writes to the audit log.

pub mod query;
pub mod types;

use async_graphql::Context;

use crate::db::audit::{self, NewEvent};
use crate::graphql::context::{client_addr, state};

/// Appends an event to the audit log, stamped with the caller's address. Called after the
/// change it describes has committed; a failure to record is logged as an error and does
/// not undo the change (the answer would otherwise say "failed" about something done).
pub async fn record(ctx: &Context<'_>, mut event: NewEvent<'_>) {
    event.address = Some(client_addr(ctx).to_string());
    if let Err(e) = audit::insert(&state(ctx).db, &event).await {
        tracing::error!(error = %e, kind = ?event.kind, summary = %event.summary, "audit event not recorded");
    }
}

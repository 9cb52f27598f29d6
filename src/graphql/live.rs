//! Subscriptions as guarded streams: each event is delivered only to a subscriber who may
//! still see the project, checked against the database again every `RECHECK` (and so
//! within seconds of a removal or a deleted project), without a database read per event.
//! A subscriber that falls behind its buffer gets an error it can see, and its stream ends.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, MissedTickBehavior};
use uuid::Uuid;

use async_graphql::Context;

use crate::auth::principal::Principal;
use crate::db;
use crate::error::{AppError, AppResult};
use crate::events::{BUFFER, Event, Subscription, Topic};
use crate::graphql::access::loader;
use crate::graphql::context::{principal, state};
use crate::graphql::loaders::LoaderReset;
use crate::state::AppState;

/// How often a subscriber's access to the project is checked again.
pub const RECHECK: Duration = Duration::from_secs(2);

/// Whether the caller may still see the project (a member, or an ADMIN while it exists),
/// read from the database now.
pub async fn still_visible(
    state: &AppState,
    principal: &Principal,
    project_id: Uuid,
) -> AppResult<bool> {
    if principal.is_admin() {
        return Ok(!db::projects::find_many(&state.db, &[project_id])
            .await?
            .is_empty());
    }
    Ok(
        !db::projects::roles(&state.db, principal.user_id, &[project_id])
            .await?
            .is_empty(),
    )
}

/// Follows `topic` for the caller of this request, who may see `project_id` now: the
/// items `deliver` makes of its events, for as long as the caller may still see it.
pub fn follow<T, F, Fut>(
    ctx: &Context<'_>,
    topic: Topic,
    project_id: Uuid,
    deliver: F,
) -> AppResult<impl Stream<Item = async_graphql::Result<T>> + Send + 'static + use<T, F, Fut>>
where
    T: Send + 'static,
    F: FnMut(Arc<Event>) -> Fut + Send + 'static,
    Fut: Future<Output = AppResult<Option<T>>> + Send,
{
    let app = state(ctx).clone();
    let subscription = app.events.subscribe(topic);
    let reset = loader(ctx).reset_handle();
    let caller = principal(ctx)?.clone();
    Ok(guarded(
        app,
        caller,
        project_id,
        subscription,
        reset,
        deliver,
    ))
}

struct Guard<F> {
    state: AppState,
    principal: Principal,
    project_id: Uuid,
    subscription: Subscription,
    deliver: F,
    reset: LoaderReset,
    tick: tokio::time::Interval,
    done: bool,
}

/// The items `deliver` makes of the topic's events (`Ok(None)` skips one), for as long as
/// the caller may see `project_id`. `reset` makes each item's fields read fresh data.
fn guarded<T, F, Fut>(
    state: AppState,
    principal: Principal,
    project_id: Uuid,
    subscription: Subscription,
    reset: LoaderReset,
    deliver: F,
) -> impl Stream<Item = async_graphql::Result<T>> + Send + 'static
where
    T: Send + 'static,
    F: FnMut(Arc<Event>) -> Fut + Send + 'static,
    Fut: Future<Output = AppResult<Option<T>>> + Send,
{
    let mut tick = tokio::time::interval_at(Instant::now() + RECHECK, RECHECK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let guard = Guard {
        state,
        principal,
        project_id,
        subscription,
        deliver,
        reset,
        tick,
        done: false,
    };
    futures_util::stream::unfold(guard, |mut g| async move {
        if g.done {
            return None;
        }
        loop {
            let event = tokio::select! {
                received = g.subscription.receiver.recv() => received,
                _ = g.tick.tick() => {
                    match still_visible(&g.state, &g.principal, g.project_id).await {
                        Ok(true) => continue,
                        Ok(false) => {
                            g.done = true;
                            return Some((Err(AppError::not_found("project").into()), g));
                        }
                        // The database is down: keep the subscription, check again later.
                        Err(_) => continue,
                    }
                }
            };
            let event = match event {
                Ok(event) => event,
                Err(RecvError::Lagged(missed)) => {
                    g.done = true;
                    let err = AppError::Unavailable(format!(
                        "this subscription fell {missed} events behind (its buffer holds {BUFFER}) and was ended: read what you missed with a query, then subscribe again"
                    ));
                    return Some((Err(err.into()), g));
                }
                Err(RecvError::Closed) => return None,
            };
            g.reset.forget();
            match (g.deliver)(event).await {
                Ok(Some(item)) => return Some((Ok(item), g)),
                Ok(None) => continue,
                Err(err) => {
                    g.done = true;
                    return Some((Err(err.into()), g));
                }
            }
        }
    })
}

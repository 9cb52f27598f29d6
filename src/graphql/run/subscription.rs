//! Live runs: metric points as they are logged, and a run's changes.

use async_graphql::{Context, ID, SimpleObject, Subscription};
use futures_util::Stream;

use crate::db;
use crate::error::{AppError, AppResult};
use crate::events::{Event, Topic};
use crate::graphql::access::Readable;
use crate::graphql::context::state;
use crate::graphql::ids::{self, to_id};
use crate::graphql::live::follow;
use crate::graphql::run::query::visible_run;
use crate::graphql::run::types::{Metric, Run};

#[derive(Default)]
pub struct RunSubscription;

/// The points of one `logMetrics` call.
#[derive(SimpleObject)]
pub struct MetricBatch {
    /// The run they were logged to.
    pub run_id: ID,
    /// The points, in the order logged; only the keys subscribed to.
    pub points: Vec<Metric>,
}

#[Subscription]
impl RunSubscription {
    /// One event per `logMetrics` call on the run, with its points (only `keys`, when
    /// given). NOT_FOUND for a run you cannot see; ends when you lose access to its project.
    async fn run_metrics(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run's id.")] run_id: ID,
        #[graphql(desc = "Only these metric keys; all when omitted.")] keys: Option<Vec<String>>,
    ) -> Result<impl Stream<Item = async_graphql::Result<MetricBatch>> + use<>, AppError> {
        let id = ids::parse("runId", &run_id)?;
        let run = visible_run(ctx, id)
            .await?
            .ok_or_else(|| AppError::not_found("run"))?;
        follow(ctx, Topic::Run(id), run.row().project_id, move |event| {
            let keys = keys.clone();
            async move {
                let Event::Metrics { run_id, points } = &*event else {
                    return Ok(None);
                };
                let points: Vec<Metric> = points
                    .iter()
                    .filter(|p| keys.as_ref().is_none_or(|k| k.contains(&p.key)))
                    .map(|p| Metric {
                        key: p.key.clone(),
                        value: p.value,
                        step: p.step,
                        timestamp: p.timestamp,
                    })
                    .collect();
                Ok((!points.is_empty()).then(|| MetricBatch {
                    run_id: to_id(*run_id),
                    points,
                }))
            }
        })
    }

    /// The run each time its status, name, params or tags change. NOT_FOUND for a run you
    /// cannot see; ends with NOT_FOUND when the run is deleted or you lose access.
    async fn run_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run's id.")] run_id: ID,
    ) -> Result<impl Stream<Item = async_graphql::Result<Run>> + use<>, AppError> {
        let id = ids::parse("runId", &run_id)?;
        let run = visible_run(ctx, id)
            .await?
            .ok_or_else(|| AppError::not_found("run"))?;
        let db = state(ctx).db.clone();
        let seen = run.seen();
        follow(ctx, Topic::Run(id), run.row().project_id, move |event| {
            let db = db.clone();
            async move {
                let Event::RunUpdated { run_id, deleted } = &*event else {
                    return Ok(None);
                };
                if *deleted {
                    return Err(AppError::not_found("run"));
                }
                current_run(&db, *run_id, seen).await.map(Some)
            }
        })
    }
}

/// The run as it is now (NOT_FOUND once deleted), for a caller `seen` lets read its
/// project.
pub async fn current_run(db: &crate::db::Db, id: uuid::Uuid, seen: Readable) -> AppResult<Run> {
    db::runs::find_many(db, &[id])
        .await?
        .pop()
        .ok_or_else(|| AppError::not_found("run"))
        .and_then(|row| Run::new(row, seen))
}

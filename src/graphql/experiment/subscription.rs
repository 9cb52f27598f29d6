//! A live runs table: the runs of an experiment as they are created, changed and deleted.

use async_graphql::{Context, Enum, ID, SimpleObject, Subscription};
use futures_util::Stream;

use crate::error::AppError;
use crate::events::{Event, RunChange, Topic};
use crate::graphql::context::state;
use crate::graphql::experiment::query::visible_experiment;
use crate::graphql::ids::{self, to_id};
use crate::graphql::live::follow;
use crate::graphql::run::subscription::current_run;
use crate::graphql::run::types::Run;

#[derive(Default)]
pub struct ExperimentSubscription;

/// What happened to a run.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum RunEventKind {
    /// The run was created.
    Created,
    /// Its status, name, params or tags changed.
    Updated,
    /// It was deleted.
    Deleted,
}

/// A change to one run of the experiment.
#[derive(SimpleObject)]
pub struct RunEvent {
    /// What happened.
    pub kind: RunEventKind,
    /// The run's id (the only trace of a deleted run).
    pub run_id: ID,
    /// The run as it is now; null once deleted.
    pub run: Option<Run>,
}

#[Subscription]
impl ExperimentSubscription {
    /// Runs of the experiment created, updated or deleted. NOT_FOUND for an experiment you
    /// cannot see; ends when you lose access to its project.
    async fn experiment_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The experiment's id.")] experiment_id: ID,
    ) -> Result<impl Stream<Item = async_graphql::Result<RunEvent>> + use<>, AppError> {
        let id = ids::parse("experimentId", &experiment_id)?;
        let experiment = visible_experiment(ctx, id)
            .await?
            .ok_or_else(|| AppError::not_found("experiment"))?;
        let db = state(ctx).db.clone();
        let seen = experiment.seen();
        follow(
            ctx,
            Topic::Experiment(id),
            experiment.row().project_id,
            move |event| {
                let db = db.clone();
                async move {
                    let Event::ExperimentRun { run_id, change } = &*event else {
                        return Ok(None);
                    };
                    let (kind, run) = match change {
                        RunChange::Created => (
                            RunEventKind::Created,
                            Some(current_run(&db, *run_id, seen).await?),
                        ),
                        RunChange::Updated => (
                            RunEventKind::Updated,
                            Some(current_run(&db, *run_id, seen).await?),
                        ),
                        RunChange::Deleted => (RunEventKind::Deleted, None),
                    };
                    Ok(Some(RunEvent {
                        kind,
                        run_id: to_id(*run_id),
                        run,
                    }))
                }
            },
        )
    }
}

//! Writes of runs (EDITOR and above): lifecycle, params, tags and metrics.

use std::collections::HashMap;

use async_graphql::{Context, ID, Object};
use chrono::Utc;
use uuid::Uuid;

use crate::auth::principal::Writable;
use crate::db;
use crate::db::projects::ProjectRole;
use crate::db::runs::{NewPoint, RunRow};
use crate::error::{AppError, AppResult};
use crate::events::{Event, RunChange, Topic};
use crate::graphql::access::require;
use crate::graphql::common::{MAX_PAIRS_PER_CALL, TagInput, check_tags};
use crate::graphql::context::{principal, state};
use crate::graphql::experiment::query::visible_experiment;
use crate::graphql::ids;
use crate::graphql::run::query::visible_run;
use crate::graphql::run::types::{CreateRunInput, MetricInput, ParamInput, Run, UpdateRunInput};
use crate::validate;

/// Most metric points in one `logMetrics` call.
pub const MAX_METRICS_PER_CALL: usize = 1000;

#[derive(Default)]
pub struct RunMutation;

#[Object]
impl RunMutation {
    /// Starts a run (status RUNNING) with its first params and tags.
    async fn create_run(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new run.")] input: CreateRunInput,
    ) -> AppResult<Run> {
        let experiment_id = ids::parse("experimentId", &input.experiment_id)?;
        let experiment = visible_experiment(ctx, experiment_id)
            .await?
            .ok_or_else(|| AppError::not_found("experiment"))?;
        require(
            ctx,
            experiment.row().project_id,
            ProjectRole::Editor,
            "experiment",
        )
        .await?;
        let params = check_params("params", &input.params)?;
        let tags = check_tags("tags", &input.tags)?;
        let name = match input.name.as_deref() {
            Some(n) => validate::name("name", n)?,
            None => format!("run-{}", &Uuid::now_v7().simple().to_string()[20..]),
        };
        let row = db::runs::insert(
            &state(ctx).db,
            experiment_id,
            experiment.row().project_id,
            &name,
            &params,
            &tags,
            principal(ctx)?.user_id,
        )
        .await?;
        announce(ctx, &row, RunChange::Created).await;
        Run::new(row, experiment.seen())
    }

    /// Renames a run or moves it along RUNNING → FINISHED / FAILED / KILLED.
    async fn update_run(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run's id.")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateRunInput,
    ) -> AppResult<Run> {
        let run = editable(ctx, "id", &id).await?;
        let name = input
            .name
            .as_deref()
            .map(|n| validate::name("name", n))
            .transpose()?;
        let row = db::runs::update(&state(ctx).db, run.row().id, name.as_deref(), input.status)
            .await?
            .ok_or_else(|| AppError::not_found("run"))?;
        announce(ctx, &row, RunChange::Updated).await;
        Run::new(row, run.seen())
    }

    /// Deletes a run with its params, tags and metrics, in one transaction.
    async fn delete_run(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run's id.")] id: ID,
    ) -> AppResult<bool> {
        let run = editable(ctx, "id", &id).await?;
        let deleted = db::runs::delete(&state(ctx).db, run.row().id).await?;
        state(ctx).storage.wake.notify_one();
        if deleted {
            announce(ctx, run.row(), RunChange::Deleted).await;
        }
        Ok(deleted)
    }

    /// Logs up to 100 params. Params are write-once: the same value again is fine, another
    /// value is a CONFLICT and nothing of the call is written.
    async fn log_params(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run's id.")] run_id: ID,
        #[graphql(desc = "The params, at most 100, each key once.")] params: Vec<ParamInput>,
    ) -> AppResult<Run> {
        let run = editable(ctx, "runId", &run_id).await?;
        let params = check_params("params", &params)?;
        db::runs::log_params(&state(ctx).db, run.row().id, &params).await?;
        announce(ctx, run.row(), RunChange::Updated).await;
        Ok(run)
    }

    /// Sets up to 100 tags, overwriting existing values.
    async fn set_run_tags(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run's id.")] run_id: ID,
        #[graphql(desc = "The tags, at most 100, each key once.")] tags: Vec<TagInput>,
    ) -> AppResult<Run> {
        let run = editable(ctx, "runId", &run_id).await?;
        let tags = check_tags("tags", &tags)?;
        db::runs::set_tags(&state(ctx).db, run.row().id, &tags).await?;
        announce(ctx, run.row(), RunChange::Updated).await;
        Ok(run)
    }

    /// Logs up to 1,000 metric points in one statement, all or nothing; returns how many
    /// were written.
    async fn log_metrics(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run's id.")] run_id: ID,
        #[graphql(desc = "The points, at most 1,000.")] metrics: Vec<MetricInput>,
    ) -> AppResult<i32> {
        // The hot path of every training job: one statement writes the points where the
        // caller may write, as the credential already told (see `writable_projects`); the
        // run is looked up, and the reason for a refusal found, only when it wrote nothing.
        let id = ids::parse("runId", &run_id)?;
        let points = match check_metrics(&metrics) {
            Ok(points) => points,
            Err(invalid) => {
                editable(ctx, "runId", &run_id).await?;
                return Err(invalid);
            }
        };
        let db = &state(ctx).db;
        let written = match principal(ctx)?.writable_projects() {
            Writable::Everywhere => db::runs::log_metrics(db, id, None, &points).await?,
            Writable::Only(projects) => {
                db::runs::log_metrics(db, id, Some(&projects), &points).await?
            }
            Writable::Unknown => false,
        };
        if !written {
            editable(ctx, "runId", &run_id).await?;
            if !db::runs::log_metrics(db, id, None, &points).await? {
                return Err(AppError::not_found("run"));
            }
        }
        let n = points.len() as i32;
        let event = Event::Metrics { run_id: id, points };
        state(ctx).events.publish(Topic::Run(id), event).await;
        Ok(n)
    }
}

/// Tells the run's and its experiment's subscribers, after the write committed.
async fn announce(ctx: &Context<'_>, run: &RunRow, change: RunChange) {
    let events = &state(ctx).events;
    let run_event = Event::RunUpdated {
        run_id: run.id,
        deleted: change == RunChange::Deleted,
    };
    if change != RunChange::Created {
        events.publish(Topic::Run(run.id), run_event).await;
    }
    let experiment_event = Event::ExperimentRun {
        run_id: run.id,
        change,
    };
    events
        .publish(Topic::Experiment(run.experiment_id), experiment_event)
        .await;
}

/// The run named by argument `field`, if the caller may see it (else NOT_FOUND) and
/// edit it (else FORBIDDEN).
async fn editable(ctx: &Context<'_>, field: &str, id: &ID) -> AppResult<Run> {
    let id = ids::parse(field, id)?;
    let run = visible_run(ctx, id)
        .await?
        .ok_or_else(|| AppError::not_found("run"))?;
    require(ctx, run.row().project_id, ProjectRole::Editor, "run").await?;
    Ok(run)
}

/// Checks params (count, keys, values) and returns them as pairs. The same key twice with
/// the same value is tolerated (MLflow's idempotent retries); with another value it is not.
fn check_params(field: &str, params: &[ParamInput]) -> AppResult<Vec<(String, String)>> {
    validate::count(field, params.len(), MAX_PAIRS_PER_CALL)?;
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut out = Vec::with_capacity(params.len());
    for p in params {
        validate::key(field, &p.key)?;
        validate::value(field, &p.key, &p.value, validate::MAX_PARAM_VALUE_CHARS)?;
        match seen.insert(p.key.as_str(), p.value.as_str()) {
            Some(prev) if prev != p.value => {
                return Err(AppError::validation(
                    field,
                    format!("key `{}` is given twice with different values", p.key),
                ));
            }
            Some(_) => {}
            None => out.push((p.key.clone(), p.value.clone())),
        }
    }
    Ok(out)
}

fn check_metrics(metrics: &[MetricInput]) -> AppResult<Vec<NewPoint>> {
    validate::count("metrics", metrics.len(), MAX_METRICS_PER_CALL)?;
    let now = Utc::now();
    metrics
        .iter()
        .map(|m| {
            validate::key("metrics", &m.key)?;
            if !m.value.is_finite() {
                return Err(AppError::validation(
                    "metrics",
                    format!("the value of `{}` must be a finite number", m.key),
                ));
            }
            Ok(NewPoint {
                key: m.key.clone(),
                value: m.value,
                step: m.step,
                timestamp: m.timestamp.unwrap_or(now),
            })
        })
        .collect()
}

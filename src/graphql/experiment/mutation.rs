//! Writes of experiments (EDITOR and above).

use async_graphql::{Context, ID, Object};

use crate::db;
use crate::db::projects::ProjectRole;
use crate::error::{AppError, AppResult};
use crate::graphql::access::require;
use crate::graphql::common::tag_map;
use crate::graphql::context::{principal, state};
use crate::graphql::experiment::query::visible_experiment;
use crate::graphql::experiment::types::{CreateExperimentInput, Experiment, UpdateExperimentInput};
use crate::graphql::ids;
use crate::validate;

#[derive(Default)]
pub struct ExperimentMutation;

#[Object]
impl ExperimentMutation {
    /// Creates an experiment in a project (EDITOR or OWNER).
    async fn create_experiment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new experiment.")] input: CreateExperimentInput,
    ) -> AppResult<Experiment> {
        let project_id = ids::parse("projectId", &input.project_id)?;
        let seen = require(ctx, project_id, ProjectRole::Editor, "project").await?;
        let name = validate::name("name", &input.name)?;
        let description = validate::description("description", input.description.as_deref())?;
        let tags = tag_map("tags", &input.tags)?;
        let row = db::experiments::insert(
            &state(ctx).db,
            project_id,
            &name,
            description.as_deref(),
            &tags,
            principal(ctx)?.user_id,
        )
        .await?;
        Experiment::new(row, seen)
    }

    /// Renames, describes or retags an experiment (EDITOR or OWNER).
    async fn update_experiment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The experiment's id.")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateExperimentInput,
    ) -> AppResult<Experiment> {
        let experiment = editable(ctx, &id).await?;
        let name = input
            .name
            .as_deref()
            .map(|n| validate::name("name", n))
            .transpose()?;
        let description = validate::description("description", input.description.as_deref())?;
        let tags = input
            .tags
            .as_deref()
            .map(|t| tag_map("tags", t))
            .transpose()?;
        let row = db::experiments::update(
            &state(ctx).db,
            experiment.row().id,
            name.as_deref(),
            description.as_deref(),
            tags.as_ref(),
        )
        .await?
        .ok_or_else(|| AppError::not_found("experiment"))?;
        Experiment::new(row, experiment.seen())
    }

    /// Deletes an experiment with its runs, in one transaction.
    async fn delete_experiment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The experiment's id.")] id: ID,
    ) -> AppResult<bool> {
        let experiment = editable(ctx, &id).await?;
        let deleted = db::experiments::delete(&state(ctx).db, experiment.row().id).await?;
        state(ctx).storage.wake.notify_one();
        Ok(deleted)
    }
}

/// The experiment, if the caller may see it (NOT_FOUND) and edit it (FORBIDDEN).
async fn editable(ctx: &Context<'_>, id: &ID) -> AppResult<Experiment> {
    let id = ids::parse("id", id)?;
    let experiment = visible_experiment(ctx, id)
        .await?
        .ok_or_else(|| AppError::not_found("experiment"))?;
    require(
        ctx,
        experiment.row().project_id,
        ProjectRole::Editor,
        "experiment",
    )
    .await?;
    Ok(experiment)
}

//! Reads of experiments.

use async_graphql::{Context, ID, Object};
use uuid::Uuid;

use crate::error::AppResult;
use crate::graphql::access::{loader, readable};
use crate::graphql::experiment::types::Experiment;
use crate::graphql::ids;
use crate::graphql::loaders::ExperimentKey;

#[derive(Default)]
pub struct ExperimentQuery;

#[Object]
impl ExperimentQuery {
    /// An experiment you can see; null otherwise.
    async fn experiment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The experiment's id.")] id: ID,
    ) -> AppResult<Option<Experiment>> {
        visible_experiment(ctx, ids::parse("id", &id)?).await
    }
}

pub async fn visible_experiment(ctx: &Context<'_>, id: Uuid) -> AppResult<Option<Experiment>> {
    let Some(row) = loader(ctx).load_one(ExperimentKey(id)).await? else {
        return Ok(None);
    };
    readable(ctx, row.project_id)
        .await?
        .map(|seen| Experiment::new(row, seen))
        .transpose()
}

//! Reads of the model registry.

use async_graphql::{Context, ID, Object};
use uuid::Uuid;

use crate::error::AppResult;
use crate::graphql::access::{loader, readable};
use crate::graphql::ids;
use crate::graphql::loaders::{ModelKey, VersionKey};
use crate::graphql::model::types::{Model, ModelVersion};

#[derive(Default)]
pub struct ModelQuery;

#[Object]
impl ModelQuery {
    /// A model you can see; null otherwise.
    async fn model(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The model's id.")] id: ID,
    ) -> AppResult<Option<Model>> {
        visible_model(ctx, ids::parse("id", &id)?).await
    }

    /// A model version you can see; null otherwise.
    async fn model_version(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The version's id.")] id: ID,
    ) -> AppResult<Option<ModelVersion>> {
        visible_version(ctx, ids::parse("id", &id)?).await
    }
}

pub async fn visible_model(ctx: &Context<'_>, id: Uuid) -> AppResult<Option<Model>> {
    let Some(row) = loader(ctx).load_one(ModelKey(id)).await? else {
        return Ok(None);
    };
    readable(ctx, row.project_id)
        .await?
        .map(|seen| Model::new(row, seen))
        .transpose()
}

pub async fn visible_version(ctx: &Context<'_>, id: Uuid) -> AppResult<Option<ModelVersion>> {
    let Some(row) = loader(ctx).load_one(VersionKey(id)).await? else {
        return Ok(None);
    };
    readable(ctx, row.project_id)
        .await?
        .map(|seen| ModelVersion::new(row, seen))
        .transpose()
}

//! Reads of artifacts.

use async_graphql::{Context, ID, Object};
use uuid::Uuid;

use crate::error::AppResult;
use crate::graphql::access::{loader, readable};
use crate::graphql::artifact::types::Artifact;
use crate::graphql::ids;
use crate::graphql::loaders::ArtifactKey;

#[derive(Default)]
pub struct ArtifactQuery;

#[Object]
impl ArtifactQuery {
    /// An artifact you can see; null otherwise.
    async fn artifact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The artifact's id.")] id: ID,
    ) -> AppResult<Option<Artifact>> {
        visible_artifact(ctx, ids::parse("id", &id)?).await
    }
}

pub async fn visible_artifact(ctx: &Context<'_>, id: Uuid) -> AppResult<Option<Artifact>> {
    let Some(row) = loader(ctx).load_one(ArtifactKey(id)).await? else {
        return Ok(None);
    };
    readable(ctx, row.project_id)
        .await?
        .map(|seen| Artifact::new(row, seen))
        .transpose()
}

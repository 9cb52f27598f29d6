//! Reads of the model registry.

use async_graphql::{Context, ID, Object};
use uuid::Uuid;

use crate::db;
use crate::error::AppResult;
use crate::graphql::access::{loader, not_listed, readable, readable_many};
use crate::graphql::connection::{
    CursorKey, Page, TotalCount, build_page, decode_id_cursor, page_size, wants_total,
};
use crate::graphql::context::{principal, state};
use crate::graphql::direct::Direct;
use crate::graphql::ids;
use crate::graphql::loaders::{ModelKey, VersionKey};
use crate::graphql::model::types::{Model, ModelFilter, ModelVersion};

#[derive(Default)]
pub struct ModelQuery;

#[Object]
impl ModelQuery {
    /// A model you can see; null otherwise.
    async fn model(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The model's id.")] id: ID,
    ) -> AppResult<Option<Direct<Model>>> {
        Ok(visible_model(ctx, ids::parse("id", &id)?)
            .await?
            .map(Direct))
    }

    /// The models of every project you can see (all of them for an ADMIN), oldest first:
    /// the registry across projects.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn models(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
        #[graphql(desc = "Only models matching this.")] filter: Option<ModelFilter>,
    ) -> AppResult<Page<Model>> {
        let p = principal(ctx)?;
        let viewer = (!p.is_admin()).then_some(p.user_id);
        let limit = page_size(first)?;
        let after = decode_id_cursor(after.as_deref())?;
        let search = filter.unwrap_or_default().search;
        let db = &state(ctx).db;
        let rows = db::models::page_visible(db, viewer, search.as_deref(), after, limit as i64 + 1)
            .await?;
        let total = if wants_total(ctx) {
            db::models::count_visible(db, viewer, search.as_deref()).await?
        } else {
            0
        };
        let seen = readable_many(ctx, rows.iter().map(|r| r.project_id)).await?;
        build_page(
            rows,
            limit,
            after.is_some(),
            TotalCount::Known(total),
            |m| CursorKey::Id(m.id),
            |row| {
                let proof = seen.get(&row.project_id).copied();
                Model::new(row, proof.ok_or_else(not_listed)?)
            },
        )
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

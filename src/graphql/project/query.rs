//! Reads of projects.

use async_graphql::{Context, ID, Object};

use crate::db;
use crate::error::AppResult;
use crate::graphql::access::{loader, not_listed, readable, readable_many};
use crate::graphql::connection::{
    CursorKey, Page, TotalCount, build_page, decode_id_cursor, page_size, wants_total,
};
use crate::graphql::context::{principal, state};
use crate::graphql::ids;
use crate::graphql::loaders::ProjectKey;
use crate::graphql::project::types::{Project, ProjectFilter};

#[derive(Default)]
pub struct ProjectQuery;

#[Object]
impl ProjectQuery {
    /// A project you can see; null otherwise (whether or not it exists).
    async fn project(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The project's id.")] id: ID,
    ) -> AppResult<Option<Project>> {
        let id = ids::parse("id", &id)?;
        visible_project(ctx, id).await
    }

    /// The projects you are a member of (all of them for an ADMIN), oldest first.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
        #[graphql(desc = "Only projects matching this.")] filter: Option<ProjectFilter>,
    ) -> AppResult<Page<Project>> {
        let p = principal(ctx)?;
        let viewer = (!p.is_admin()).then_some(p.user_id);
        let limit = page_size(first)?;
        let after = decode_id_cursor(after.as_deref())?;
        let search = filter.unwrap_or_default().search;
        let db = &state(ctx).db;
        let rows =
            db::projects::page_visible(db, viewer, search.as_deref(), after, limit as i64 + 1)
                .await?;
        let total = if wants_total(ctx) {
            db::projects::count_visible(db, viewer, search.as_deref()).await?
        } else {
            0
        };
        let seen = readable_many(ctx, rows.iter().map(|r| r.id)).await?;
        build_page(
            rows,
            limit,
            after.is_some(),
            TotalCount::Known(total),
            |p| CursorKey::Id(p.id),
            |row| {
                let proof = seen.get(&row.id).copied();
                Project::new(row, proof.ok_or_else(not_listed)?)
            },
        )
    }
}

/// The project if it exists and the caller may see it.
pub async fn visible_project(ctx: &Context<'_>, id: uuid::Uuid) -> AppResult<Option<Project>> {
    let Some(row) = loader(ctx).load_one(ProjectKey(id)).await? else {
        return Ok(None);
    };
    readable(ctx, row.id)
        .await?
        .map(|seen| Project::new(row, seen))
        .transpose()
}

//! GraphQL types of experiments.

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use crate::db::experiments::ExperimentRow;
use crate::error::{AppError, AppResult};
use crate::graphql::access::loader;
use crate::graphql::access::project_object;
use crate::graphql::account::types::User;
use crate::graphql::common::{Tag, TagInput, tag_list, user};
use crate::graphql::connection::{Page, TotalCount, page_size};
use crate::graphql::direct::named_row_leaves;
use crate::graphql::ids::to_id;
use crate::graphql::loaders::{ProjectKey, RunCountKey, RunPageKey};
use crate::graphql::project::types::Project;
use crate::graphql::run::search::{
    RunFilter, RunOrderBy, default_page, is_default_listing, run_query, search_page,
};
use crate::graphql::run::types::Run;

project_object!(Experiment, ExperimentRow, project_id);

named_row_leaves!(Experiment);

/// A named group of runs in a project, e.g. one model family trained many ways.
#[Object(serial)]
impl Experiment {
    /// The experiment's id.
    async fn id(&self) -> ID {
        to_id(self.row.id)
    }
    /// The project it belongs to.
    async fn project(&self, ctx: &Context<'_>) -> AppResult<Project> {
        // Same project as this experiment, which the caller may see.
        loader(ctx)
            .load_one(ProjectKey(self.row.project_id))
            .await?
            .ok_or_else(|| AppError::not_found("project"))
            .and_then(|row| Project::new(row, self.seen))
    }
    /// Unique within the project, at most 200 characters.
    async fn name(&self) -> &str {
        &self.row.name
    }
    /// What the experiment tries, at most 10,000 characters.
    async fn description(&self) -> Option<&str> {
        self.row.description.as_deref()
    }
    /// Its tags, ordered by key.
    async fn tags(&self) -> Vec<Tag> {
        tag_list(&self.row.tags)
    }
    /// When the experiment was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When its name, description or tags last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// Who created it (null if that account was deleted).
    async fn created_by(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        user(ctx, self.seen, self.row.created_by).await
    }
    /// The experiment's runs, filtered and ordered like `Query.runs` (default: oldest
    /// first). Pages of sibling experiments are read together.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
        #[graphql(desc = "Only runs matching this.")] filter: Option<RunFilter>,
        #[graphql(desc = "The order of the runs; oldest first when omitted.")] order_by: Option<
            RunOrderBy,
        >,
    ) -> AppResult<Page<Run>> {
        let limit = page_size(first)?;
        let query = run_query(filter, order_by, after.as_deref(), limit)?;
        let filter_key = serde_json::to_string(&query.filter).map_err(anyhow::Error::from)?;
        let total = TotalCount::RunsOf(RunCountKey {
            experiment: self.row.id,
            filter: filter_key,
        });
        if is_default_listing(&query) {
            // The common nested read: a plain statement, no search builder, no JSON.
            return default_page(ctx, &[self.row.id], &query, limit, total, &[self.seen]).await;
        }
        let key = RunPageKey {
            experiment: self.row.id,
            query: serde_json::to_string(&query).map_err(anyhow::Error::from)?,
        };
        let rows = loader(ctx).load_one(key).await?.unwrap_or_default();
        search_page(rows, limit, query.after.is_some(), total, &[self.seen])
    }
}

/// A new experiment (EDITOR or OWNER of the project).
#[derive(InputObject)]
pub struct CreateExperimentInput {
    /// The project's id.
    pub project_id: ID,
    /// Unique within the project, 1 to 200 characters.
    pub name: String,
    /// What the experiment tries, at most 10,000 characters.
    pub description: Option<String>,
    /// Tags to start with, at most 100.
    #[graphql(default)]
    pub tags: Vec<TagInput>,
}

/// Changes to an experiment; omitted fields keep their value.
#[derive(InputObject)]
pub struct UpdateExperimentInput {
    /// A new name, unique within the project, 1 to 200 characters.
    pub name: Option<String>,
    /// A new description, at most 10,000 characters.
    pub description: Option<String>,
    /// Replaces all tags when given.
    pub tags: Option<Vec<TagInput>>,
}

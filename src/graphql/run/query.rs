//! Reads of runs: one by id, and the search.

use async_graphql::{Context, ID, Object};
use futures_util::future::try_join_all;
use uuid::Uuid;

use crate::db;
use crate::error::{AppError, AppResult};
use crate::graphql::access::{loader, readable};
use crate::graphql::connection::{Page, TotalCount, page_size, wants_total};
use crate::graphql::context::state;
use crate::graphql::experiment::query::visible_experiment;
use crate::graphql::ids;
use crate::graphql::loaders::RunKey;
use crate::graphql::run::search::{
    RunFilter, RunOrderBy, default_page, is_default_listing, run_query, search_page,
};
use crate::graphql::run::types::Run;

/// Most experiments one search may span.
pub const MAX_SEARCH_EXPERIMENTS: usize = 100;

#[derive(Default)]
pub struct RunQuery;

#[Object]
impl RunQuery {
    /// A run you can see; null otherwise.
    async fn run(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run's id.")] id: ID,
    ) -> AppResult<Option<Run>> {
        visible_run(ctx, ids::parse("id", &id)?).await
    }

    /// Searches the runs of up to 100 experiments you can see: filter by status, name,
    /// tags, params and latest metrics (AND / OR), order by an attribute, a metric or a
    /// param (runs without a value last, ties by id). Default order: oldest first.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The experiments to search, 1 to 100, each one you can see.")]
        experiment_ids: Vec<ID>,
        #[graphql(desc = "Only runs matching this.")] filter: Option<RunFilter>,
        #[graphql(desc = "The order of the runs; oldest first when omitted.")] order_by: Option<
            RunOrderBy,
        >,
        #[graphql(desc = "Page size, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
    ) -> AppResult<Page<Run>> {
        if experiment_ids.is_empty() || experiment_ids.len() > MAX_SEARCH_EXPERIMENTS {
            return Err(AppError::validation(
                "experimentIds",
                format!("give 1 to {MAX_SEARCH_EXPERIMENTS} experiment ids"),
            ));
        }
        let experiments = experiment_ids
            .iter()
            .map(|id| ids::parse("experimentIds", id))
            .collect::<AppResult<Vec<_>>>()?;
        // Asked together, the experiments and the caller's roles load in one batch each.
        let visible =
            try_join_all(experiments.iter().map(|id| visible_experiment(ctx, *id))).await?;
        let seen = visible
            .into_iter()
            .map(|e| {
                e.map(|e| e.seen())
                    .ok_or_else(|| AppError::not_found("experiment"))
            })
            .collect::<AppResult<Vec<_>>>()?;
        let limit = page_size(first)?;
        let query = run_query(filter, order_by, after.as_deref(), limit)?;
        let db = &state(ctx).db;
        let total = if wants_total(ctx) {
            db::search::count_each(db, &experiments, query.filter.as_ref())
                .await?
                .iter()
                .map(|(_, n)| n)
                .sum()
        } else {
            0
        };
        if is_default_listing(&query) {
            let total = TotalCount::Known(total);
            return default_page(ctx, &experiments, &query, limit, total, &seen).await;
        }
        let rows = db::search::search(db, &experiments, &query).await?;
        search_page(
            rows,
            limit,
            query.after.is_some(),
            TotalCount::Known(total),
            &seen,
        )
    }
}

pub async fn visible_run(ctx: &Context<'_>, id: Uuid) -> AppResult<Option<Run>> {
    let Some(row) = loader(ctx).load_one(RunKey(id)).await? else {
        return Ok(None);
    };
    readable(ctx, row.project_id)
        .await?
        .map(|seen| Run::new(row, seen))
        .transpose()
}

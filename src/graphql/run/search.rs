//! The runs search's inputs and their translation to `db::search`.

use async_graphql::{Context, Enum, InputObject};
use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;
use uuid::Uuid;

use crate::db::runs::{RunRow, RunStatus};
use crate::db::search::{
    Attribute, Comparison, Condition, Cursor, Order, RunQuery, SearchRow, SortKey, TextMatch,
    check_cursor_value,
};
use crate::error::{AppError, AppResult};
use crate::graphql::access::{Readable, loader, not_listed};
use crate::graphql::connection::{CursorKey, Page, TotalCount, build_page, decode_cursor};
use crate::graphql::loaders::{ChildPageKey, RunDefaultPageKey};
use crate::graphql::run::types::Run;
use crate::validate;

/// Deepest nesting of `and` / `or` in a filter.
pub const MAX_FILTER_DEPTH: usize = 4;
/// Most conditions in one filter, all levels together.
pub const MAX_FILTER_CONDITIONS: usize = 50;
/// Most values in one `in` list.
pub const MAX_IN_VALUES: usize = 100;

/// Matches a tag's or param's value.
#[derive(InputObject, Debug, Clone)]
pub struct KeyValueCondition {
    /// The tag's or param's key; runs without it do not match.
    pub key: String,
    /// The value equals this.
    pub equals: Option<String>,
    /// The value is one of these.
    #[graphql(name = "in")]
    pub in_: Option<Vec<String>>,
}

/// How a metric compares with a value.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonOp {
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Equal.
    Eq,
    /// Greater than or equal.
    Gte,
    /// Greater than.
    Gt,
}

/// Compares a metric's latest value.
#[derive(InputObject, Debug, Clone)]
pub struct MetricCondition {
    /// The metric's key; runs without it do not match.
    pub key: String,
    /// How the latest value compares with `value`.
    pub op: ComparisonOp,
    /// A finite number.
    pub value: f64,
}

/// Conditions on runs. All conditions given at one level must hold (AND); `or` holds when
/// any of its filters does; `and` when all do. Nesting is at most 4 deep and 50
/// conditions in all.
#[derive(InputObject, Debug, Clone, Default)]
pub struct RunFilter {
    /// The status is one of these.
    pub status: Option<Vec<RunStatus>>,
    /// The name equals this.
    pub name: Option<String>,
    /// The name contains this (case-insensitive).
    pub name_contains: Option<String>,
    /// Every one of these tag conditions holds.
    pub tags: Option<Vec<KeyValueCondition>>,
    /// Every one of these param conditions holds.
    pub params: Option<Vec<KeyValueCondition>>,
    /// On the latest value of each metric.
    pub metrics: Option<Vec<MetricCondition>>,
    /// Every one of these filters holds.
    pub and: Option<Vec<RunFilter>>,
    /// At least one of these filters holds.
    pub or: Option<Vec<RunFilter>>,
}

/// A run's own field to order by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAttribute {
    /// When the run started.
    StartedAt,
    /// When the run ended (running runs last).
    EndedAt,
    /// The run's name.
    Name,
    /// The run's status.
    Status,
    /// When the run record was created.
    CreatedAt,
}

/// Which way to order.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// What to order runs by: exactly one of `attribute`, `metric` (latest value) or `param`.
/// Runs without a value come last; ties are broken by id.
#[derive(InputObject, Debug, Clone)]
pub struct RunOrderBy {
    /// One of the run's own fields.
    pub attribute: Option<RunAttribute>,
    /// The latest value of this metric.
    pub metric: Option<String>,
    /// This param's value, compared as text.
    pub param: Option<String>,
    /// Ascending unless told otherwise.
    #[graphql(default)]
    pub direction: SortDirection,
}

fn text_match(field: &str, c: &KeyValueCondition) -> AppResult<TextMatch> {
    validate::key(field, &c.key)?;
    match (&c.equals, &c.in_) {
        (Some(v), None) => Ok(TextMatch::Equals(v.clone())),
        (None, Some(vs)) => {
            validate::count(field, vs.len(), MAX_IN_VALUES)?;
            Ok(TextMatch::In(vs.clone()))
        }
        _ => Err(AppError::validation(
            field,
            format!("give exactly one of `equals` or `in` for `{}`", c.key),
        )),
    }
}

fn condition(filter: &RunFilter, depth: usize, budget: &mut usize) -> AppResult<Condition> {
    if depth > MAX_FILTER_DEPTH {
        return Err(AppError::validation(
            "filter",
            format!("filters nest at most {MAX_FILTER_DEPTH} deep"),
        ));
    }
    let mut all = Vec::new();
    let spend = |n: usize, budget: &mut usize| -> AppResult<()> {
        *budget = budget.checked_sub(n).ok_or_else(|| {
            AppError::validation(
                "filter",
                format!("at most {MAX_FILTER_CONDITIONS} conditions per filter"),
            )
        })?;
        Ok(())
    };
    if let Some(statuses) = &filter.status {
        spend(1, budget)?;
        all.push(Condition::Status(statuses.clone()));
    }
    if let Some(name) = &filter.name {
        spend(1, budget)?;
        all.push(Condition::NameEquals(name.clone()));
    }
    if let Some(part) = &filter.name_contains {
        spend(1, budget)?;
        all.push(Condition::NameContains(part.clone()));
    }
    for c in filter.tags.iter().flatten() {
        spend(1, budget)?;
        all.push(Condition::Tag {
            key: c.key.clone(),
            matches: text_match("filter.tags", c)?,
        });
    }
    for c in filter.params.iter().flatten() {
        spend(1, budget)?;
        all.push(Condition::Param {
            key: c.key.clone(),
            matches: text_match("filter.params", c)?,
        });
    }
    for m in filter.metrics.iter().flatten() {
        spend(1, budget)?;
        validate::key("filter.metrics", &m.key)?;
        if !m.value.is_finite() {
            return Err(AppError::validation(
                "filter.metrics",
                "compare with a finite number",
            ));
        }
        let comparison = match m.op {
            ComparisonOp::Lt => Comparison::Lt,
            ComparisonOp::Lte => Comparison::Lte,
            ComparisonOp::Eq => Comparison::Eq,
            ComparisonOp::Gte => Comparison::Gte,
            ComparisonOp::Gt => Comparison::Gt,
        };
        all.push(Condition::Metric {
            key: m.key.clone(),
            comparison,
            value: m.value,
        });
    }
    if let Some(ands) = &filter.and {
        for f in ands {
            all.push(condition(f, depth + 1, budget)?);
        }
    }
    if let Some(ors) = &filter.or {
        let any = ors
            .iter()
            .map(|f| condition(f, depth + 1, budget))
            .collect::<AppResult<Vec<_>>>()?;
        all.push(Condition::Any(any));
    }
    Ok(Condition::All(all))
}

fn order(order_by: Option<RunOrderBy>) -> AppResult<Order> {
    let Some(o) = order_by else {
        return Ok(Order::default());
    };
    let key = match (o.attribute, o.metric, o.param) {
        (Some(a), None, None) => SortKey::Attribute(match a {
            RunAttribute::StartedAt => Attribute::StartedAt,
            RunAttribute::EndedAt => Attribute::EndedAt,
            RunAttribute::Name => Attribute::Name,
            RunAttribute::Status => Attribute::Status,
            RunAttribute::CreatedAt => Attribute::CreatedAt,
        }),
        (None, Some(m), None) => {
            validate::key("orderBy.metric", &m)?;
            SortKey::Metric(m)
        }
        (None, None, Some(p)) => {
            validate::key("orderBy.param", &p)?;
            SortKey::Param(p)
        }
        _ => {
            return Err(AppError::validation(
                "orderBy",
                "give exactly one of `attribute`, `metric` or `param`",
            ));
        }
    };
    Ok(Order {
        key,
        descending: o.direction == SortDirection::Desc,
    })
}

/// Builds the search from the GraphQL arguments, checking every limit.
pub fn run_query(
    filter: Option<RunFilter>,
    order_by: Option<RunOrderBy>,
    after: Option<&str>,
    limit: usize,
) -> AppResult<RunQuery> {
    let order = order(order_by)?;
    let mut budget = MAX_FILTER_CONDITIONS;
    let filter = filter.map(|f| condition(&f, 1, &mut budget)).transpose()?;
    let after = after
        .map(|c| {
            let bad = || {
                AppError::validation(
                    "after",
                    "invalid cursor: pass an `endCursor` of the same search",
                )
            };
            let cursor: Cursor = serde_json::from_str(&decode_cursor(c)?).map_err(|_| bad())?;
            if !check_cursor_value(&order.key, &cursor.value) {
                return Err(bad());
            }
            Ok(cursor)
        })
        .transpose()?;
    Ok(RunQuery {
        filter,
        order,
        after,
        limit: limit as i64 + 1,
    })
}

/// Whether a search is the plain listing (no filter, oldest first), which `default_page`
/// answers with a plain statement instead of the search builder.
pub fn is_default_listing(query: &RunQuery) -> bool {
    query.filter.is_none() && query.order == Order::default()
}

/// The plain listing of `experiments`' runs, oldest first: each experiment's next rows
/// come from one batched statement on the index `runs (experiment_id, created_at, id)`
/// (`RunDefaultPageKey`), merged in order. Its cursors are the search's own for this order,
/// so either continues the other. Each run is built with its project's proof among `seen`.
pub async fn default_page(
    ctx: &Context<'_>,
    experiments: &[Uuid],
    query: &RunQuery,
    limit: usize,
    total: TotalCount,
    seen: &[Readable],
) -> AppResult<Page<Run>> {
    let after = query.after.as_ref().map(created_cursor).transpose()?;
    let mut parents = experiments.to_vec();
    parents.sort_unstable();
    parents.dedup();
    let l = loader(ctx);
    let key = |parent| {
        RunDefaultPageKey(ChildPageKey {
            parent,
            after,
            limit: query.limit,
        })
    };
    // One experiment (every `Experiment.runs`) awaits its page alone: no joined set of
    // futures to build for it.
    let mut rows: Vec<_> = if let [parent] = parents[..] {
        l.load_one(key(parent)).await?.unwrap_or_default()
    } else {
        let pages = try_join_all(parents.iter().map(|&parent| l.load_one(key(parent)))).await?;
        pages.into_iter().flatten().flatten().collect()
    };
    if parents.len() > 1 {
        rows.sort_unstable_by_key(|r| (r.created_at, r.id));
        rows.truncate(limit + 1);
    }
    build_page(
        rows,
        limit,
        after.is_some(),
        total,
        |r| CursorKey::Created(r.created_at, r.id),
        |row| run_of(row, seen),
    )
}

/// The run of a listed row, built with its project's proof among `seen`.
fn run_of(row: RunRow, seen: &[Readable]) -> AppResult<Run> {
    let proof = seen
        .iter()
        .find(|s| s.project_id() == row.project_id)
        .ok_or_else(not_listed)?;
    Run::new(row, *proof)
}

/// The creation time and id in a cursor of the default run order.
fn created_cursor(cursor: &Cursor) -> AppResult<(DateTime<Utc>, Uuid)> {
    let at = cursor
        .value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .ok_or_else(|| {
            AppError::validation(
                "after",
                "invalid cursor: pass an `endCursor` or `cursor` you were given",
            )
        })?;
    Ok((at.with_timezone(&Utc), cursor.id))
}

/// A connection of runs from search rows, each built with the proof of its project among
/// `seen` (the searched experiments').
pub fn search_page(
    rows: Vec<SearchRow>,
    limit: usize,
    has_previous: bool,
    total: TotalCount,
    seen: &[Readable],
) -> AppResult<Page<Run>> {
    build_page(
        rows,
        limit,
        has_previous,
        total,
        |r| CursorKey::Search(r.cursor()),
        |r| run_of(r.run, seen),
    )
}

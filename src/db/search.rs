//! The runs search: filters over attributes, tags, params and latest metrics combined with
//! AND / OR, ordered by an attribute, a metric or a param (NULLs last, ties by id), paged
//! with keyset cursors. The SQL is built with bound parameters only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::db::Db;
use crate::db::runs::{RunRow, RunStatus};
use crate::db::users::escape_like;
use crate::error::AppResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TextMatch {
    Equals(String),
    In(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    Lt,
    Lte,
    Eq,
    Gte,
    Gt,
}

impl Comparison {
    fn sql(self) -> &'static str {
        match self {
            Comparison::Lt => " < ",
            Comparison::Lte => " <= ",
            Comparison::Eq => " = ",
            Comparison::Gte => " >= ",
            Comparison::Gt => " > ",
        }
    }
}

/// One condition on a run; a filter is a tree of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    Status(Vec<RunStatus>),
    NameEquals(String),
    NameContains(String),
    Tag {
        key: String,
        matches: TextMatch,
    },
    Param {
        key: String,
        matches: TextMatch,
    },
    Metric {
        key: String,
        comparison: Comparison,
        value: f64,
    },
    All(Vec<Condition>),
    Any(Vec<Condition>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attribute {
    StartedAt,
    EndedAt,
    Name,
    Status,
    CreatedAt,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SortKey {
    Attribute(Attribute),
    Metric(String),
    Param(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Order {
    fn default() -> Self {
        Order {
            key: SortKey::Attribute(Attribute::CreatedAt),
            descending: false,
        }
    }
}

/// Where a page stopped: the last row's sort value (JSON, null for NULL) and id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    pub value: serde_json::Value,
    pub id: Uuid,
}

/// Everything that shapes a search but the experiments it runs over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunQuery {
    pub filter: Option<Condition>,
    pub order: Order,
    pub after: Option<Cursor>,
    /// Rows to fetch (the page size plus one).
    pub limit: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SearchRow {
    #[sqlx(flatten)]
    pub run: RunRow,
    pub sort_value: Option<sqlx::types::Json<serde_json::Value>>,
}

impl SearchRow {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            value: self
                .sort_value
                .as_ref()
                .map_or(serde_json::Value::Null, |j| j.0.clone()),
            id: self.run.id,
        }
    }
}

/// The SQL type a sort key's values have, for casting cursor values back.
fn sort_cast(key: &SortKey) -> &'static str {
    match key {
        SortKey::Attribute(Attribute::StartedAt | Attribute::EndedAt | Attribute::CreatedAt) => {
            "timestamptz"
        }
        SortKey::Attribute(Attribute::Name | Attribute::Status) | SortKey::Param(_) => "text",
        SortKey::Metric(_) => "float8",
    }
}

/// Pushes `FROM runs r [JOIN for the sort key]` and the sort expression's select.
fn push_from(qb: &mut QueryBuilder<Postgres>, key: &SortKey) {
    match key {
        SortKey::Attribute(a) => {
            let column = match a {
                Attribute::StartedAt => "r.started_at",
                Attribute::EndedAt => "r.ended_at",
                Attribute::Name => "r.name",
                Attribute::Status => "r.status",
                Attribute::CreatedAt => "r.created_at",
            };
            qb.push(format_args!(" {column} AS sv FROM runs r "));
        }
        SortKey::Metric(k) => {
            qb.push(" s.value AS sv FROM runs r LEFT JOIN latest_metrics s ON s.run_id = r.id AND s.key = ");
            qb.push_bind(k.clone());
        }
        SortKey::Param(k) => {
            qb.push(
                " s.value AS sv FROM runs r LEFT JOIN run_params s ON s.run_id = r.id AND s.key = ",
            );
            qb.push_bind(k.clone());
        }
    }
}

fn push_text_match(qb: &mut QueryBuilder<Postgres>, matches: &TextMatch) {
    match matches {
        TextMatch::Equals(v) => {
            qb.push(" AND x.value = ");
            qb.push_bind(v.clone());
        }
        TextMatch::In(vs) => {
            qb.push(" AND x.value = ANY(");
            qb.push_bind(vs.clone());
            qb.push(")");
        }
    }
}

fn push_condition(qb: &mut QueryBuilder<Postgres>, c: &Condition) {
    match c {
        Condition::Status(statuses) => {
            let s: Vec<&str> = statuses.iter().map(|s| crate::db::enum_name(*s)).collect();
            qb.push("r.status = ANY(");
            qb.push_bind(s.into_iter().map(str::to_string).collect::<Vec<_>>());
            qb.push(")");
        }
        Condition::NameEquals(n) => {
            qb.push("r.name = ");
            qb.push_bind(n.clone());
        }
        Condition::NameContains(n) => {
            qb.push("r.name ILIKE '%' || ");
            qb.push_bind(escape_like(n));
            qb.push(" || '%'");
        }
        Condition::Tag { key, matches } | Condition::Param { key, matches } => {
            let table = if matches!(c, Condition::Tag { .. }) {
                "run_tags"
            } else {
                "run_params"
            };
            qb.push(format_args!(
                "EXISTS (SELECT 1 FROM {table} x WHERE x.run_id = r.id AND x.key = "
            ));
            qb.push_bind(key.clone());
            push_text_match(qb, matches);
            qb.push(")");
        }
        Condition::Metric {
            key,
            comparison,
            value,
        } => {
            qb.push("EXISTS (SELECT 1 FROM latest_metrics x WHERE x.run_id = r.id AND x.key = ");
            qb.push_bind(key.clone());
            qb.push(" AND x.value");
            qb.push(comparison.sql());
            qb.push_bind(*value);
            qb.push(")");
        }
        Condition::All(cs) | Condition::Any(cs) => {
            if cs.is_empty() {
                qb.push(if matches!(c, Condition::All(_)) {
                    "TRUE"
                } else {
                    "FALSE"
                });
                return;
            }
            let joiner = if matches!(c, Condition::All(_)) {
                " AND "
            } else {
                " OR "
            };
            qb.push("(");
            for (i, inner) in cs.iter().enumerate() {
                if i > 0 {
                    qb.push(joiner);
                }
                push_condition(qb, inner);
            }
            qb.push(")");
        }
    }
}

/// `… AND (the rows after the cursor)`, with NULL sort values last.
fn push_keyset(qb: &mut QueryBuilder<Postgres>, order: &Order, cursor: &Cursor) {
    let cast = sort_cast(&order.key);
    if cursor.value.is_null() {
        qb.push(" AND (q.sv IS NULL AND q.id > ");
        qb.push_bind(cursor.id);
        qb.push(")");
        return;
    }
    let value = match &cursor.value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let op = if order.descending { " < " } else { " > " };
    qb.push(" AND (q.sv IS NULL OR q.sv");
    qb.push(op);
    qb.push_bind(value.clone());
    qb.push(format_args!("::{cast} OR (q.sv = "));
    qb.push_bind(value);
    qb.push(format_args!("::{cast} AND q.id > "));
    qb.push_bind(cursor.id);
    qb.push("))");
}

/// The columns of a run a search returns (the fields of `RunRow`): the one list the
/// search builder, the only dynamic SQL left, keeps.
const RUN_COLUMNS: [&str; 9] = [
    "id",
    "experiment_id",
    "project_id",
    "name",
    "status",
    "started_at",
    "ended_at",
    "created_by",
    "created_at",
];

/// `RUN_COLUMNS` of the relation `alias`, comma-separated.
fn run_columns(alias: &str) -> String {
    RUN_COLUMNS
        .iter()
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The inner select over runs matching `scope_sql` (which binds nothing itself) and the
/// filter, ordered and limited.
fn push_page(qb: &mut QueryBuilder<Postgres>, scope: &str, query: &RunQuery) {
    qb.push(format_args!(
        "SELECT {}, to_jsonb(q.sv) AS sort_value FROM (SELECT {},",
        run_columns("q"),
        run_columns("r")
    ));
    push_from(qb, &query.order.key);
    qb.push(" WHERE ");
    qb.push(scope);
    if let Some(filter) = &query.filter {
        qb.push(" AND ");
        push_condition(qb, filter);
    }
    qb.push(") q WHERE TRUE");
    if let Some(cursor) = &query.after {
        push_keyset(qb, &query.order, cursor);
    }
    let dir = if query.order.descending {
        "DESC"
    } else {
        "ASC"
    };
    qb.push(format_args!(
        " ORDER BY (q.sv IS NULL), q.sv {dir}, q.id ASC LIMIT "
    ));
    qb.push_bind(query.limit);
}

/// One page of runs across the given experiments.
#[tracing::instrument(skip(db))]
pub async fn search(
    db: &Db,
    experiment_ids: &[Uuid],
    query: &RunQuery,
) -> AppResult<Vec<SearchRow>> {
    let mut qb = QueryBuilder::<Postgres>::new("WITH scope AS (SELECT unnest(");
    qb.push_bind(experiment_ids.to_vec());
    qb.push("::uuid[]) AS id) ");
    push_page(&mut qb, "r.experiment_id IN (SELECT id FROM scope)", query);
    let rows = qb.build_query_as::<SearchRow>().fetch_all(db).await?;
    Ok(rows)
}

/// One page per experiment, in one statement (for nested `Experiment.runs`).
#[tracing::instrument(skip(db))]
pub async fn search_each(
    db: &Db,
    experiment_ids: &[Uuid],
    query: &RunQuery,
) -> AppResult<Vec<SearchRow>> {
    let mut qb = QueryBuilder::<Postgres>::new("SELECT page.* FROM unnest(");
    qb.push_bind(experiment_ids.to_vec());
    qb.push("::uuid[]) AS parent(id) CROSS JOIN LATERAL (");
    push_page(&mut qb, "r.experiment_id = parent.id", query);
    qb.push(") page");
    let rows = qb.build_query_as::<SearchRow>().fetch_all(db).await?;
    Ok(rows)
}

/// How many runs match, per experiment.
#[tracing::instrument(skip(db))]
pub async fn count_each(
    db: &Db,
    experiment_ids: &[Uuid],
    filter: Option<&Condition>,
) -> AppResult<Vec<(Uuid, i64)>> {
    let mut qb = QueryBuilder::<Postgres>::new(
        "SELECT r.experiment_id, count(*) FROM runs r WHERE r.experiment_id = ANY(",
    );
    qb.push_bind(experiment_ids.to_vec());
    qb.push(")");
    if let Some(filter) = filter {
        qb.push(" AND ");
        push_condition(&mut qb, filter);
    }
    qb.push(" GROUP BY r.experiment_id");
    let rows = qb.build_query_as::<(Uuid, i64)>().fetch_all(db).await?;
    Ok(rows)
}

/// Parses a sort value given back in a cursor, refusing one of the wrong type.
pub fn check_cursor_value(key: &SortKey, value: &serde_json::Value) -> bool {
    match (sort_cast(key), value) {
        (_, serde_json::Value::Null) => true,
        ("float8", serde_json::Value::Number(_)) => true,
        ("text", serde_json::Value::String(_)) => true,
        ("timestamptz", serde_json::Value::String(s)) => s.parse::<DateTime<Utc>>().is_ok(),
        _ => false,
    }
}

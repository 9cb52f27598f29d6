//! GraphQL types of runs, params, metrics.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject, Value};
use chrono::{DateTime, Utc};

use crate::db;
use crate::db::runs::{PointRow, RunRow, RunStatus};
use crate::error::{AppError, AppResult};
use crate::graphql::access::project_object;
use crate::graphql::access::{loader, readable_many};
use crate::graphql::account::types::User;
use crate::graphql::artifact::types::Artifact;
use crate::graphql::common::{Tag, user};
use crate::graphql::connection::{
    CursorKey, Page, TotalCount, build_page, decode_cursor, page_size, wants_total,
};
use crate::graphql::context::state;
use crate::graphql::direct::{DirectList, Leaves, leaf};
use crate::graphql::experiment::types::Experiment;
use crate::graphql::ids::to_id;
use crate::graphql::loaders::RunArtifactsKey;
use crate::graphql::loaders::{
    ExperimentKey, LatestMetricsKey, ParamsKey, TagsKey, VersionsFromRunKey,
};
use crate::graphql::model::types::ModelVersion;
use crate::validate;

/// Most points a downsampled history returns.
pub const MAX_SAMPLED_POINTS: i32 = 10_000;

project_object!(Run, RunRow, project_id);

/// A parameter: written once per run.
#[derive(SimpleObject, Clone)]
pub struct Param {
    /// The param's key, unique in the run.
    pub key: String,
    /// The param's value, as logged.
    pub value: String,
}

/// The latest value of a metric.
#[derive(SimpleObject, Clone)]
pub struct Metric {
    /// The metric's key.
    pub key: String,
    /// Its value at its greatest step.
    pub value: f64,
    /// The greatest step logged.
    pub step: i64,
    /// When that value was measured.
    pub timestamp: DateTime<Utc>,
}

/// One point of a metric's history.
#[derive(SimpleObject, Clone)]
pub struct MetricPoint {
    /// The training step it was measured at.
    pub step: i64,
    /// The measured value.
    pub value: f64,
    /// When it was measured.
    pub timestamp: DateTime<Utc>,
}

impl From<PointRow> for MetricPoint {
    fn from(p: PointRow) -> Self {
        MetricPoint {
            step: p.step,
            value: p.value,
            timestamp: p.timestamp,
        }
    }
}

impl Leaves for Param {
    fn leaf(&self, field: &str) -> Option<Value> {
        match field {
            "key" => leaf(self.key.as_str()),
            "value" => leaf(self.value.as_str()),
            _ => None,
        }
    }
}

impl Leaves for Metric {
    fn leaf(&self, field: &str) -> Option<Value> {
        match field {
            "key" => leaf(self.key.as_str()),
            "value" => leaf(self.value),
            "step" => leaf(self.step),
            "timestamp" => leaf(self.timestamp),
            _ => None,
        }
    }
}

impl Leaves for MetricPoint {
    fn leaf(&self, field: &str) -> Option<Value> {
        match field {
            "step" => leaf(self.step),
            "value" => leaf(self.value),
            "timestamp" => leaf(self.timestamp),
            _ => None,
        }
    }
}

impl Leaves for Run {
    fn leaf(&self, field: &str) -> Option<Value> {
        match field {
            "id" => leaf(to_id(self.row.id)),
            "name" => leaf(self.row.name.as_str()),
            "status" => leaf(self.row.status),
            "startedAt" => leaf(self.row.started_at),
            "endedAt" => leaf(self.row.ended_at),
            _ => None,
        }
    }
}

/// One execution of training or evaluation code, with the params it ran with, the metrics
/// it measured over steps, its tags and its artifacts.
#[Object(serial)]
impl Run {
    /// The run's id.
    async fn id(&self) -> ID {
        to_id(self.row.id)
    }
    /// The experiment it belongs to.
    async fn experiment(&self, ctx: &Context<'_>) -> AppResult<Experiment> {
        loader(ctx)
            .load_one(ExperimentKey(self.row.experiment_id))
            .await?
            .ok_or_else(|| AppError::not_found("experiment"))
            .and_then(|row| Experiment::new(row, self.seen))
    }
    /// The run's name, at most 200 characters (not unique).
    async fn name(&self) -> &str {
        &self.row.name
    }
    /// RUNNING until it is set to FINISHED, FAILED or KILLED.
    async fn status(&self) -> RunStatus {
        self.row.status
    }
    /// When the run was created.
    async fn started_at(&self) -> DateTime<Utc> {
        self.row.started_at
    }
    /// When the run left RUNNING.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.row.ended_at
    }
    /// Who created it (null if that account was deleted).
    async fn created_by(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        user(ctx, self.seen, self.row.created_by).await
    }
    /// Params in key order.
    async fn params(&self, ctx: &Context<'_>) -> AppResult<DirectList<Param>> {
        let rows = loader(ctx)
            .load_one(ParamsKey(self.row.id))
            .await?
            .unwrap_or_default();
        Ok(DirectList(
            rows.into_iter()
                .map(|r| Param {
                    key: r.key,
                    value: r.value,
                })
                .collect(),
        ))
    }
    /// Tags in key order.
    async fn tags(&self, ctx: &Context<'_>) -> AppResult<DirectList<Tag>> {
        let rows = loader(ctx)
            .load_one(TagsKey(self.row.id))
            .await?
            .unwrap_or_default();
        Ok(DirectList(
            rows.into_iter()
                .map(|r| Tag {
                    key: r.key,
                    value: r.value,
                })
                .collect(),
        ))
    }
    /// The latest value of each metric (greatest step, then latest timestamp).
    async fn latest_metrics(&self, ctx: &Context<'_>) -> AppResult<DirectList<Metric>> {
        let rows = loader(ctx)
            .load_one(LatestMetricsKey(self.row.id))
            .await?
            .unwrap_or_default();
        Ok(DirectList(
            rows.into_iter()
                .map(|r| Metric {
                    key: r.key,
                    value: r.value,
                    step: r.step,
                    timestamp: r.timestamp,
                })
                .collect(),
        ))
    }
    /// A metric's full history in step order.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn metric_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The metric's key.")] key: String,
        #[graphql(desc = "Page size, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
    ) -> AppResult<Page<MetricPoint>> {
        validate::key("key", &key)?;
        let limit = page_size(first)?;
        let after = after
            .map(|c| {
                let raw = decode_cursor(&c)?;
                raw.split_once(':')
                    .and_then(|(s, i)| Some((s.parse().ok()?, i.parse().ok()?)))
                    .ok_or_else(|| AppError::validation("after", "invalid cursor"))
            })
            .transpose()?;
        let db = &state(ctx).db;
        let rows = db::runs::history_page(db, self.row.id, &key, after, limit as i64 + 1).await?;
        let total = if wants_total(ctx) {
            db::runs::history_count(db, self.row.id, &key).await?
        } else {
            0
        };
        build_page(
            rows,
            limit,
            after.is_some(),
            TotalCount::Known(total),
            |p| CursorKey::Point(p.step, p.id),
            |p| Ok(MetricPoint::from(p)),
        )
    }
    /// A metric's history cut down to at most `maxPoints` for charts: the step range is
    /// split into `maxPoints / 4` buckets, each keeping its first, last, minimum and
    /// maximum point, so spikes survive. Short histories come back whole.
    async fn metric_history_sampled(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The metric's key.")] key: String,
        #[graphql(default = 1000, desc = "At most this many points, 4 to 10,000.")] max_points: i32,
    ) -> AppResult<Vec<MetricPoint>> {
        validate::key("key", &key)?;
        if !(4..=MAX_SAMPLED_POINTS).contains(&max_points) {
            return Err(AppError::validation(
                "maxPoints",
                format!("between 4 and {MAX_SAMPLED_POINTS}"),
            ));
        }
        let db = &state(ctx).db;
        let rows =
            db::runs::history_page(db, self.row.id, &key, None, i64::from(max_points) + 1).await?;
        if rows.len() <= max_points as usize {
            return Ok(rows.into_iter().map(MetricPoint::from).collect());
        }
        let sampled =
            db::runs::history_sampled(db, self.row.id, &key, i64::from(max_points / 4)).await?;
        Ok(sampled.into_iter().map(MetricPoint::from).collect())
    }
    /// The run's artifacts, by path.
    async fn artifacts(&self, ctx: &Context<'_>) -> AppResult<Vec<Artifact>> {
        let rows = loader(ctx)
            .load_one(RunArtifactsKey(self.row.id))
            .await?
            .unwrap_or_default();
        rows.into_iter()
            .map(|row| Artifact::new(row, self.seen))
            .collect()
    }
    /// Model versions made from this run, in models you can see.
    async fn model_versions(&self, ctx: &Context<'_>) -> AppResult<Vec<ModelVersion>> {
        let rows = loader(ctx)
            .load_one(VersionsFromRunKey(self.row.id))
            .await?
            .unwrap_or_default();
        // A version may live in another project than its source run.
        let seen = readable_many(ctx, rows.iter().map(|r| r.project_id)).await?;
        rows.into_iter()
            .filter_map(|row| {
                let proof = seen.get(&row.project_id).copied()?;
                Some(ModelVersion::new(row, proof))
            })
            .collect()
    }
}

/// A param to log.
#[derive(InputObject, Clone, Debug)]
pub struct ParamInput {
    /// 1–250 characters of letters, digits, `_ - . /` and spaces.
    pub key: String,
    /// At most 6,000 characters.
    pub value: String,
}

/// A metric point to log.
#[derive(InputObject, Clone, Debug)]
pub struct MetricInput {
    /// 1–250 characters of letters, digits, `_ - . /` and spaces.
    pub key: String,
    /// A finite number: JSON cannot carry NaN or ±Infinity, and they are refused.
    pub value: f64,
    /// Default 0.
    #[graphql(default)]
    pub step: i64,
    /// Default: now.
    pub timestamp: Option<DateTime<Utc>>,
}

/// A new run, RUNNING from now (EDITOR or OWNER of the project).
#[derive(InputObject)]
pub struct CreateRunInput {
    /// The experiment's id.
    pub experiment_id: ID,
    /// Default: `run-` and the start of the id.
    pub name: Option<String>,
    /// Params to start with, at most 100.
    #[graphql(default)]
    pub params: Vec<ParamInput>,
    /// Tags to start with, at most 100.
    #[graphql(default)]
    pub tags: Vec<crate::graphql::common::TagInput>,
}

/// Changes to a run; omitted fields keep their value.
#[derive(InputObject)]
pub struct UpdateRunInput {
    /// Leaving RUNNING sets `endedAt`; going back to RUNNING clears it.
    pub status: Option<RunStatus>,
    /// A new name, 1 to 200 characters.
    pub name: Option<String>,
}

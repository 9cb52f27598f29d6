//! GraphQL types of the model registry.

use async_graphql::{Context, ID, InputObject, Object, Value};
use chrono::{DateTime, Utc};

use crate::db;
use crate::db::models::{AliasEventRow, AliasRow, ModelRow, ModelStage, VersionRow};
use crate::error::{AppError, AppResult};
use crate::graphql::access::project_object;
use crate::graphql::access::{Readable, loader, readable};
use crate::graphql::account::types::User;
use crate::graphql::artifact::types::Artifact;
use crate::graphql::common::{Tag, TagInput, tag_list, user};
use crate::graphql::connection::{
    CursorKey, Page, TotalCount, build_page, decode_cursor, page_size,
};
use crate::graphql::context::state;
use crate::graphql::direct::{Direct, DirectList, Leaves, Part, leaf, named_row_leaves};
use crate::graphql::ids::to_id;
use crate::graphql::loaders::VersionArtifactsKey;
use crate::graphql::loaders::{ChildPageKey, ModelKey, ProjectKey, VersionKey, VersionPageKey};
use crate::graphql::project::types::Project;
use crate::graphql::run::types::Run;

project_object!(Model, ModelRow, project_id);

named_row_leaves!(Model);

/// A registered model: a named line of versions, each with a stage, aliases pointing at
/// some of them, and lineage back to the run that made it.
#[Object(serial)]
impl Model {
    /// The model's id.
    async fn id(&self) -> ID {
        to_id(self.row.id)
    }
    /// The project it belongs to.
    async fn project(&self, ctx: &Context<'_>) -> AppResult<Project> {
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
    /// What the model does, at most 10,000 characters.
    async fn description(&self) -> Option<&str> {
        self.row.description.as_deref()
    }
    /// Its tags, ordered by key.
    async fn tags(&self) -> DirectList<Tag> {
        DirectList(tag_list(&self.row.tags))
    }
    /// When the model was registered.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When its name, description or tags last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// Who registered it (null if that account was deleted).
    async fn created_by(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        user(ctx, self.seen, self.row.created_by).await
    }
    /// Versions, newest first.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn versions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
    ) -> AppResult<Page<ModelVersion>> {
        let limit = page_size(first)?;
        let before = after
            .map(|c| {
                decode_cursor(&c)?
                    .parse::<i32>()
                    .map_err(|_| AppError::validation("after", "invalid cursor"))
            })
            .transpose()?;
        let key = ChildPageKey {
            parent: self.row.id,
            after: before,
            limit: limit as i64 + 1,
        };
        let rows = loader(ctx)
            .load_one(VersionPageKey(key))
            .await?
            .unwrap_or_default();
        build_page(
            rows,
            limit,
            before.is_some(),
            TotalCount::VersionsOf(self.row.id),
            |v| CursorKey::Number(i64::from(v.version)),
            |row| ModelVersion::new(row, self.seen),
        )
    }
    /// The version with this number, if it exists (numbers of deleted versions are not
    /// reused).
    async fn version(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The version's number, from 1.")] number: i32,
    ) -> AppResult<Option<ModelVersion>> {
        db::models::find_version_by_number(&state(ctx).db, self.row.id, number)
            .await?
            .map(|row| ModelVersion::new(row, self.seen))
            .transpose()
    }
    /// The highest-numbered version.
    async fn latest_version(&self) -> AppResult<Option<Direct<ModelVersion>>> {
        self.row
            .highest_version
            .as_ref()
            .map(|row| ModelVersion::new(row.0.clone(), self.seen).map(Direct))
            .transpose()
    }
    /// The model's aliases (`champion` → a version), by name.
    async fn aliases(&self) -> DirectList<ModelAlias> {
        DirectList(
            self.row
                .aliases
                .iter()
                .map(|row| ModelAlias {
                    row: row.clone(),
                    seen: self.seen,
                })
                .collect(),
        )
    }
    /// Who pointed which alias where and when, newest first (at most `first`, ≤ 100).
    async fn alias_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "How many changes, 0 to 100.")] first: i32,
    ) -> AppResult<Vec<AliasEvent>> {
        let limit = page_size(Some(first))?;
        let rows = db::models::alias_history(&state(ctx).db, self.row.id, limit as i64).await?;
        Ok(rows
            .into_iter()
            .map(|row| AliasEvent {
                row,
                seen: self.seen,
            })
            .collect())
    }
}

/// A version, for a caller its proof lets read the model's project.
pub struct ModelVersion {
    row: VersionRow,
    seen: Readable,
    /// Its source run when that run is in the same project (so the same proof covers it):
    /// answered in place. A run elsewhere is left to `sourceRun`'s resolver, which checks
    /// that project.
    own_run: Option<Run>,
}

impl ModelVersion {
    /// The version, for a caller `seen` lets read its project.
    pub fn new(row: VersionRow, seen: Readable) -> AppResult<Self> {
        seen.covers(row.project_id)?;
        let own_run = row
            .source_run()
            .filter(|run| run.project_id == seen.project_id())
            .map(|run| Run::new(run, seen))
            .transpose()?;
        Ok(Self { row, seen, own_run })
    }

    pub fn row(&self) -> &VersionRow {
        &self.row
    }

    /// The proof it was built with, for its children.
    pub fn seen(&self) -> Readable {
        self.seen
    }
}

impl Leaves for ModelVersion {
    fn leaf(&self, field: &str) -> Option<Value> {
        match field {
            "id" => leaf(to_id(self.row.id)),
            "version" => leaf(self.row.version),
            "stage" => leaf(self.row.stage),
            "aliases" => leaf(self.row.aliases.as_slice()),
            "description" => leaf(self.row.description.as_deref()),
            "createdAt" => leaf(self.row.created_at),
            "sourceRun" if self.row.source_run_id.is_none() => Some(Value::Null),
            _ => None,
        }
    }

    fn part(&self, field: &str) -> Option<&dyn Part> {
        match field {
            "sourceRun" => self.own_run.as_ref().map(|run| run as &dyn Part),
            _ => None,
        }
    }
}

/// A numbered version of a model, with its lineage back to the run that made it.
#[Object(serial)]
impl ModelVersion {
    /// The version's id.
    async fn id(&self) -> ID {
        to_id(self.row.id)
    }
    /// The model it is a version of.
    async fn model(&self, ctx: &Context<'_>) -> AppResult<Model> {
        loader(ctx)
            .load_one(ModelKey(self.row.model_id))
            .await?
            .ok_or_else(|| AppError::not_found("model"))
            .and_then(|row| Model::new(row, self.seen))
    }
    /// 1, 2, 3 … per model, assigned by the server.
    async fn version(&self) -> i32 {
        self.row.version
    }
    /// Where it is in its life: NONE, STAGING, PRODUCTION or ARCHIVED.
    async fn stage(&self) -> ModelStage {
        self.row.stage
    }
    /// The aliases pointing at this version.
    async fn aliases(&self) -> &[String] {
        &self.row.aliases
    }
    /// The run this version came from; null when none was given, it was deleted, or it is
    /// in a project you cannot see.
    async fn source_run(&self, ctx: &Context<'_>) -> AppResult<Option<Direct<Run>>> {
        let Some(row) = self.row.source_run() else {
            return Ok(None);
        };
        readable(ctx, row.project_id)
            .await?
            .map(|seen| Run::new(row, seen).map(Direct))
            .transpose()
    }
    /// What changed in this version, at most 10,000 characters.
    async fn description(&self) -> Option<&str> {
        self.row.description.as_deref()
    }
    /// When the version was registered.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// Who registered it (null if that account was deleted).
    async fn created_by(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        user(ctx, self.seen, self.row.created_by).await
    }
    /// The version's artifacts, by path.
    async fn artifacts(&self, ctx: &Context<'_>) -> AppResult<Vec<Artifact>> {
        let rows = loader(ctx)
            .load_one(VersionArtifactsKey(self.row.id))
            .await?
            .unwrap_or_default();
        rows.into_iter()
            .map(|row| Artifact::new(row, self.seen))
            .collect()
    }
}

/// Built only here, from the aliases of a `Model` the caller may see (with its proof).
pub struct ModelAlias {
    row: AliasRow,
    seen: Readable,
}

/// A named pointer to one version of a model (`champion`), moved by `setModelAlias`.
#[Object(serial)]
impl ModelAlias {
    /// The alias, unique within the model.
    async fn alias(&self) -> &str {
        &self.row.alias
    }
    /// The version it points at.
    async fn version(&self, ctx: &Context<'_>) -> AppResult<Option<ModelVersion>> {
        loader(ctx)
            .load_one(VersionKey(self.row.version_id))
            .await?
            .map(|row| ModelVersion::new(row, self.seen))
            .transpose()
    }
    /// The version number it points at.
    async fn version_number(&self) -> i32 {
        self.row.version
    }
    /// When it was last set or moved.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

impl Leaves for ModelAlias {
    fn leaf(&self, field: &str) -> Option<Value> {
        match field {
            "alias" => leaf(self.row.alias.as_str()),
            "versionNumber" => leaf(self.row.version),
            "updatedAt" => leaf(self.row.updated_at),
            _ => None,
        }
    }
}

/// Built only here, from the alias history of a `Model` the caller may see (with its
/// proof).
pub struct AliasEvent {
    row: AliasEventRow,
    seen: Readable,
}

/// One change of an alias: set, moved or deleted.
#[Object(serial)]
impl AliasEvent {
    /// The alias that changed.
    async fn alias(&self) -> &str {
        &self.row.alias
    }
    /// The version it then pointed at; null when the alias was deleted.
    async fn version(&self) -> Option<i32> {
        self.row.version
    }
    /// Who changed it (null if that account was deleted).
    async fn changed_by(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        user(ctx, self.seen, self.row.changed_by).await
    }
    /// When it changed.
    async fn changed_at(&self) -> DateTime<Utc> {
        self.row.changed_at
    }
}

/// A new registered model (EDITOR or OWNER of the project).
#[derive(InputObject)]
pub struct CreateModelInput {
    /// The project's id.
    pub project_id: ID,
    /// Unique within the project, 1 to 200 characters.
    pub name: String,
    /// What the model does, at most 10,000 characters.
    pub description: Option<String>,
    /// Tags to start with, at most 100.
    #[graphql(default)]
    pub tags: Vec<TagInput>,
}

/// Changes to a model; omitted fields keep their value.
#[derive(InputObject)]
pub struct UpdateModelInput {
    /// A new name, unique within the project, 1 to 200 characters.
    pub name: Option<String>,
    /// A new description, at most 10,000 characters.
    pub description: Option<String>,
    /// Replaces all tags when given.
    pub tags: Option<Vec<TagInput>>,
}

/// A new version of a model; it gets the next number and stage NONE.
#[derive(InputObject)]
pub struct CreateModelVersionInput {
    /// The model's id.
    pub model_id: ID,
    /// The run that produced it; you must be able to read that run.
    pub source_run_id: Option<ID>,
    /// What changed in this version, at most 10,000 characters.
    pub description: Option<String>,
}

/// Filter of the registry's model list.
#[derive(InputObject, Default)]
pub struct ModelFilter {
    /// Case-insensitive substring of the model's name.
    pub search: Option<String>,
}

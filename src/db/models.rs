//! The model registry: models, numbered versions, stages, aliases and their history.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::Db;
use crate::db::KeyValues;
use crate::db::runs::{RunRow, RunStatus};
use crate::db::users::escape_like;
use crate::error::{AppError, AppResult, ResultExt};

#[derive(
    async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Deserialize,
)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
/// Where a model version is in its life.
pub enum ModelStage {
    /// Registered, not yet in any stage.
    None,
    /// Being validated before production.
    Staging,
    /// Serving; at most one version per model unless `archiveExisting: false` was asked.
    Production,
    /// Retired.
    Archived,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ModelRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub tags: Json<KeyValues>,
    pub latest_version: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its aliases by name, read with the model (an index lookup in the same statement).
    pub aliases: Json<Vec<AliasRow>>,
    /// Its highest-numbered version, read with the model (one backward index step in the
    /// same statement: the view `model_reads`); `None` when it has no version.
    pub highest_version: Option<Json<VersionRow>>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct VersionRow {
    pub id: Uuid,
    pub model_id: Uuid,
    /// Denormalized from the model for authorization.
    pub project_id: Uuid,
    pub version: i32,
    pub stage: ModelStage,
    pub source_run_id: Option<Uuid>,
    pub description: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// The aliases pointing at it, by name: read with the version (an index lookup in the
    /// same statement), so a page of versions with their aliases is one statement.
    pub aliases: Vec<String>,
    /// The source run's row, read with the version (a primary-key lookup in the same
    /// statement) so that lineage costs no statement of its own: `source_run()`.
    pub run_experiment_id: Option<Uuid>,
    pub run_project_id: Option<Uuid>,
    pub run_name: Option<String>,
    pub run_status: Option<RunStatus>,
    pub run_started_at: Option<DateTime<Utc>>,
    pub run_ended_at: Option<DateTime<Utc>>,
    pub run_created_by: Option<Uuid>,
    pub run_created_at: Option<DateTime<Utc>>,
}

impl VersionRow {
    /// The run the version came from, as read with it; `None` when it names none (or its
    /// run was deleted, which clears the reference).
    pub fn source_run(&self) -> Option<RunRow> {
        Some(RunRow {
            id: self.source_run_id?,
            experiment_id: self.run_experiment_id?,
            project_id: self.run_project_id?,
            name: self.run_name.clone()?,
            status: self.run_status?,
            started_at: self.run_started_at?,
            ended_at: self.run_ended_at,
            created_by: self.run_created_by,
            created_at: self.run_created_at?,
        })
    }
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct AliasRow {
    pub model_id: Uuid,
    pub alias: String,
    pub version_id: Uuid,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AliasEventRow {
    pub model_id: Uuid,
    pub alias: String,
    pub version: Option<i32>,
    pub changed_by: Option<Uuid>,
    pub changed_at: DateTime<Utc>,
}

fn duplicate_name() -> AppError {
    AppError::Conflict(
        "a model with this name already exists in the project: pick another name".into(),
    )
}

#[tracing::instrument(skip(db))]
pub async fn insert(
    db: &Db,
    project_id: Uuid,
    name: &str,
    description: Option<&str>,
    tags: &KeyValues,
    created_by: Uuid,
) -> AppResult<ModelRow> {
    sqlx::query_as!(
        ModelRow,
        r#"INSERT INTO models (id, project_id, name, description, tags, created_by)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, project_id, name, description, tags AS "tags: Json<KeyValues>", latest_version, created_by, created_at, updated_at,
                   '[]'::jsonb AS "aliases!: Json<Vec<AliasRow>>",
                   NULL::jsonb AS "highest_version: Json<VersionRow>""#,
        Uuid::now_v7(),
        project_id,
        name,
        description,
        Json(tags) as _,
        created_by,
    )
    .fetch_one(db)
    .await
    .on_constraint("models_project_name_key", duplicate_name)
}

#[tracing::instrument(skip(db))]
pub async fn update(
    db: &Db,
    id: Uuid,
    name: Option<&str>,
    description: Option<&str>,
    tags: Option<&KeyValues>,
) -> AppResult<Option<ModelRow>> {
    sqlx::query_as!(
        ModelRow,
        r#"WITH changed AS (
             UPDATE models SET name = COALESCE($2, name), description = COALESCE($3, description),
                 tags = COALESCE($4, tags), updated_at = now()
             WHERE id = $1
             RETURNING id, project_id, name, description, tags, latest_version, created_by, created_at, updated_at)
         SELECT c.id, c.project_id, c.name, c.description, c.tags AS "tags: Json<KeyValues>", c.latest_version, c.created_by, c.created_at, c.updated_at,
                r.aliases AS "aliases!: Json<Vec<AliasRow>>", r.highest_version AS "highest_version: Json<VersionRow>"
         FROM changed c JOIN model_reads r ON r.id = c.id"#,
        id,
        name,
        description,
        tags.map(Json) as _,
    )
    .fetch_optional(db)
    .await
    .on_constraint("models_project_name_key", duplicate_name)
}

#[tracing::instrument(skip(db))]
pub async fn delete(db: &Db, id: Uuid) -> AppResult<bool> {
    let done = sqlx::query!(r#"DELETE FROM models WHERE id = $1"#, id,)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

#[tracing::instrument(skip(db))]
pub async fn find_many(db: &Db, ids: &[Uuid]) -> AppResult<Vec<ModelRow>> {
    let rows = sqlx::query_as!(
        ModelRow,
        r#"SELECT m.id AS "id!", m.project_id AS "project_id!", m.name AS "name!", m.description, m.tags AS "tags!: Json<KeyValues>",
                m.latest_version AS "latest_version!", m.created_by, m.created_at AS "created_at!", m.updated_at AS "updated_at!",
                m.aliases AS "aliases!: Json<Vec<AliasRow>>", m.highest_version AS "highest_version: Json<VersionRow>"
         FROM model_reads m WHERE m.id = ANY($1)"#,
        ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn pages_by_project(
    db: &Db,
    project_ids: &[Uuid],
    after: Option<Uuid>,
    limit: i64,
) -> AppResult<Vec<ModelRow>> {
    let rows = sqlx::query_as!(
        ModelRow,
        r#"SELECT page.* FROM unnest($1::uuid[]) AS parent(id)
         CROSS JOIN LATERAL (
             SELECT m.id AS "id!", m.project_id AS "project_id!", m.name AS "name!", m.description, m.tags AS "tags!: Json<KeyValues>",
                    m.latest_version AS "latest_version!", m.created_by, m.created_at AS "created_at!", m.updated_at AS "updated_at!",
                    m.aliases AS "aliases!: Json<Vec<AliasRow>>", m.highest_version AS "highest_version: Json<VersionRow>"
             FROM model_reads m
             WHERE m.project_id = parent.id AND m.id > coalesce($2::uuid, '00000000-0000-0000-0000-000000000000')
             ORDER BY m.id LIMIT $3
         ) page"#,
        project_ids,
        after,
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// Models in the projects `viewer` is a member of (every project when `None`), oldest
/// first, their names matching `search` (case-insensitive substring) when given.
#[tracing::instrument(skip(db))]
pub async fn page_visible(
    db: &Db,
    viewer: Option<Uuid>,
    search: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> AppResult<Vec<ModelRow>> {
    let rows = sqlx::query_as!(
        ModelRow,
        r#"SELECT m.id AS "id!", m.project_id AS "project_id!", m.name AS "name!", m.description, m.tags AS "tags!: Json<KeyValues>",
                m.latest_version AS "latest_version!", m.created_by, m.created_at AS "created_at!", m.updated_at AS "updated_at!",
                m.aliases AS "aliases!: Json<Vec<AliasRow>>", m.highest_version AS "highest_version: Json<VersionRow>"
         FROM model_reads m
         WHERE ($1::uuid IS NULL
                OR EXISTS (SELECT 1 FROM project_members pm WHERE pm.project_id = m.project_id AND pm.user_id = $1))
           AND ($2::text IS NULL OR m.name ILIKE '%' || $2 || '%')
           AND m.id > coalesce($3::uuid, '00000000-0000-0000-0000-000000000000')
         ORDER BY m.id
         LIMIT $4"#,
        viewer,
        search.map(escape_like),
        after,
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn count_visible(db: &Db, viewer: Option<Uuid>, search: Option<&str>) -> AppResult<i64> {
    let n = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM models m
         WHERE ($1::uuid IS NULL
                OR EXISTS (SELECT 1 FROM project_members pm WHERE pm.project_id = m.project_id AND pm.user_id = $1))
           AND ($2::text IS NULL OR m.name ILIKE '%' || $2 || '%')"#,
        viewer,
        search.map(escape_like),
    )
    .fetch_one(db)
    .await?;
    Ok(n)
}

#[tracing::instrument(skip(db))]
pub async fn counts_by_project(db: &Db, project_ids: &[Uuid]) -> AppResult<Vec<(Uuid, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT project_id, count(*) AS "count!" FROM models
           WHERE project_id = ANY($1) GROUP BY project_id"#,
        project_ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.project_id, r.count)).collect())
}

/// Creates the next version of a model. The model row's counter is bumped in the same
/// statement, which locks the row: concurrent creations queue, and a failed insert rolls
/// the counter back, so numbers have neither gaps nor duplicates.
#[tracing::instrument(skip(db))]
pub async fn create_version(
    db: &Db,
    model_id: Uuid,
    source_run_id: Option<Uuid>,
    description: Option<&str>,
    created_by: Uuid,
) -> AppResult<VersionRow> {
    let row = sqlx::query_as!(
        VersionRow,
        r#"WITH m AS (
             UPDATE models SET latest_version = latest_version + 1, updated_at = now()
             WHERE id = $2 RETURNING id, project_id, latest_version),
         v AS (
             INSERT INTO model_versions (id, model_id, version, source_run_id, description, created_by)
             SELECT $1, m.id, m.latest_version, $3, $4, $5 FROM m
             RETURNING id, model_id, version, stage, source_run_id, description, created_by, created_at)
         SELECT v.id AS "id!", v.model_id AS "model_id!", m.project_id AS "project_id!", v.version AS "version!",
                v.stage AS "stage!: ModelStage", v.source_run_id, v.description, v.created_by,
                v.created_at AS "created_at!", ARRAY[]::text[] AS "aliases!",
                r.experiment_id AS "run_experiment_id?", r.project_id AS "run_project_id?", r.name AS "run_name?",
                r.status AS "run_status?: RunStatus", r.started_at AS "run_started_at?", r.ended_at AS "run_ended_at?",
                r.created_by AS "run_created_by?", r.created_at AS "run_created_at?"
         FROM v JOIN m ON m.id = v.model_id LEFT JOIN runs r ON r.id = v.source_run_id"#,
        Uuid::now_v7(),
        model_id,
        source_run_id,
        description,
        created_by,
    )
    .fetch_optional(db)
    .await?;
    row.ok_or_else(|| AppError::not_found("model"))
}

#[tracing::instrument(skip(db))]
pub async fn find_versions(db: &Db, ids: &[Uuid]) -> AppResult<Vec<VersionRow>> {
    let rows = sqlx::query_as!(
        VersionRow,
        r#"SELECT v.id AS "id!", v.model_id AS "model_id!", m.project_id AS "project_id!", v.version AS "version!", v.stage AS "stage!: ModelStage",
                    v.source_run_id, v.description, v.created_by, v.created_at AS "created_at!",
                    ARRAY(SELECT a.alias FROM model_aliases a WHERE a.version_id = v.id ORDER BY a.alias) AS "aliases!",
                    r.experiment_id AS "run_experiment_id?", r.project_id AS "run_project_id?", r.name AS "run_name?",
                    r.status AS "run_status?: RunStatus", r.started_at AS "run_started_at?", r.ended_at AS "run_ended_at?",
                    r.created_by AS "run_created_by?", r.created_at AS "run_created_at?"
             FROM model_versions v JOIN models m ON m.id = v.model_id
             LEFT JOIN runs r ON r.id = v.source_run_id
         WHERE v.id = ANY($1)"#,
        ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// A model's version by its number.
#[tracing::instrument(skip(db))]
pub async fn find_version_by_number(
    db: &Db,
    model_id: Uuid,
    number: i32,
) -> AppResult<Option<VersionRow>> {
    let row = sqlx::query_as!(
        VersionRow,
        r#"SELECT v.id AS "id!", v.model_id AS "model_id!", m.project_id AS "project_id!", v.version AS "version!", v.stage AS "stage!: ModelStage",
                    v.source_run_id, v.description, v.created_by, v.created_at AS "created_at!",
                    ARRAY(SELECT a.alias FROM model_aliases a WHERE a.version_id = v.id ORDER BY a.alias) AS "aliases!",
                    r.experiment_id AS "run_experiment_id?", r.project_id AS "run_project_id?", r.name AS "run_name?",
                    r.status AS "run_status?: RunStatus", r.started_at AS "run_started_at?", r.ended_at AS "run_ended_at?",
                    r.created_by AS "run_created_by?", r.created_at AS "run_created_at?"
             FROM model_versions v JOIN models m ON m.id = v.model_id
             LEFT JOIN runs r ON r.id = v.source_run_id
         WHERE v.model_id = $1 AND v.version = $2"#,
        model_id,
        number,
    )
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// One page of versions per model, newest (highest number) first, each with its aliases
/// (gathered once per model, from the aliases' primary key, rather than looked up for
/// each version) and its source run.
#[tracing::instrument(skip(db))]
pub async fn version_pages_by_model(
    db: &Db,
    model_ids: &[Uuid],
    before_version: Option<i32>,
    limit: i64,
) -> AppResult<Vec<VersionRow>> {
    let rows = sqlx::query_as!(
        VersionRow,
        r#"SELECT v.id AS "id!", v.model_id AS "model_id!", m.project_id, v.version AS "version!",
                  v.stage AS "stage!: ModelStage", v.source_run_id, v.description, v.created_by,
                  v.created_at AS "created_at!", coalesce(al.aliases, '{}') AS "aliases!",
                  r.experiment_id AS "run_experiment_id?", r.project_id AS "run_project_id?", r.name AS "run_name?",
                  r.status AS "run_status?: RunStatus", r.started_at AS "run_started_at?", r.ended_at AS "run_ended_at?",
                  r.created_by AS "run_created_by?", r.created_at AS "run_created_at?"
         FROM unnest($1::uuid[]) AS parent(id)
         JOIN models m ON m.id = parent.id
         CROSS JOIN LATERAL (
             SELECT id, model_id, version, stage, source_run_id, description, created_by, created_at
             FROM model_versions
             WHERE model_id = m.id AND version < coalesce($2::int8, 2147483648)
             ORDER BY version DESC LIMIT $3
         ) v
         LEFT JOIN (
             SELECT a.version_id, array_agg(a.alias ORDER BY a.alias) AS aliases
             FROM model_aliases a WHERE a.model_id = ANY($1)
             GROUP BY a.version_id
         ) al ON al.version_id = v.id
         LEFT JOIN runs r ON r.id = v.source_run_id
         ORDER BY v.model_id, v.version DESC"#,
        model_ids,
        before_version.map(i64::from),
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn version_counts_by_model(db: &Db, model_ids: &[Uuid]) -> AppResult<Vec<(Uuid, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT model_id, count(*) AS "count!" FROM model_versions
           WHERE model_id = ANY($1) GROUP BY model_id"#,
        model_ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.model_id, r.count)).collect())
}

#[tracing::instrument(skip(db))]
pub async fn versions_from_runs(db: &Db, run_ids: &[Uuid]) -> AppResult<Vec<VersionRow>> {
    let rows = sqlx::query_as!(
        VersionRow,
        r#"SELECT v.id AS "id!", v.model_id AS "model_id!", m.project_id AS "project_id!", v.version AS "version!", v.stage AS "stage!: ModelStage",
                    v.source_run_id, v.description, v.created_by, v.created_at AS "created_at!",
                    ARRAY(SELECT a.alias FROM model_aliases a WHERE a.version_id = v.id ORDER BY a.alias) AS "aliases!",
                    r.experiment_id AS "run_experiment_id?", r.project_id AS "run_project_id?", r.name AS "run_name?",
                    r.status AS "run_status?: RunStatus", r.started_at AS "run_started_at?", r.ended_at AS "run_ended_at?",
                    r.created_by AS "run_created_by?", r.created_at AS "run_created_at?"
             FROM model_versions v JOIN models m ON m.id = v.model_id
             LEFT JOIN runs r ON r.id = v.source_run_id
         WHERE v.source_run_id = ANY($1) ORDER BY v.model_id, v.version"#,
        run_ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// Moves a version to a stage. Promoting to PRODUCTION archives the model's other
/// PRODUCTION versions unless `keep_existing`. One transaction.
#[tracing::instrument(skip(db))]
pub async fn set_stage(
    db: &Db,
    version_id: Uuid,
    stage: ModelStage,
    keep_existing: bool,
) -> AppResult<Option<VersionRow>> {
    let mut conn = db.acquire().await?;
    let mut tx = conn.begin().await?;
    let model_id: Option<Uuid> = sqlx::query_scalar!(
        r#"SELECT model_id FROM model_versions WHERE id = $1"#,
        version_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(model_id) = model_id else {
        return Ok(None);
    };
    // Serialize stage changes of one model so two promotions cannot both stay PRODUCTION.
    sqlx::query!(
        r#"SELECT 1 AS "locked" FROM models WHERE id = $1 FOR UPDATE"#,
        model_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if stage == ModelStage::Production && !keep_existing {
        sqlx::query!(
            r#"UPDATE model_versions SET stage = 'ARCHIVED', updated_at = now()
             WHERE model_id = $1 AND stage = 'PRODUCTION' AND id <> $2"#,
            model_id,
            version_id,
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!(
        r#"UPDATE model_versions SET stage = $2, updated_at = now() WHERE id = $1"#,
        version_id,
        stage as _,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(find_versions(db, &[version_id]).await?.pop())
}

/// Points an alias at a version (creating or moving it) and records the change.
#[tracing::instrument(skip(db))]
pub async fn set_alias(
    db: &Db,
    model_id: Uuid,
    alias: &str,
    version_id: Uuid,
    changed_by: Uuid,
) -> AppResult<()> {
    sqlx::query!(
        r#"WITH v AS (SELECT id, version FROM model_versions WHERE id = $3 AND model_id = $1),
              set AS (
                  INSERT INTO model_aliases (model_id, alias, version_id, updated_by)
                  SELECT $1, $2, v.id, $4 FROM v
                  ON CONFLICT (model_id, alias) DO UPDATE
                      SET version_id = EXCLUDED.version_id, updated_by = EXCLUDED.updated_by,
                          updated_at = now())
         INSERT INTO model_alias_events (model_id, alias, version, changed_by)
         SELECT $1, $2, v.version, $4 FROM v"#,
        model_id,
        alias,
        version_id,
        changed_by,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Removes an alias, recording the change; returns whether it existed.
#[tracing::instrument(skip(db))]
pub async fn delete_alias(
    db: &Db,
    model_id: Uuid,
    alias: &str,
    changed_by: Uuid,
) -> AppResult<bool> {
    let deleted: Option<String> = sqlx::query_scalar!(
        r#"WITH gone AS (DELETE FROM model_aliases WHERE model_id = $1 AND alias = $2 RETURNING alias),
              logged AS (
                  INSERT INTO model_alias_events (model_id, alias, version, changed_by)
                  SELECT $1, alias, NULL, $3 FROM gone)
         SELECT alias FROM gone"#,
        model_id,
        alias,
        changed_by,
    )
    .fetch_optional(db)
    .await?;
    Ok(deleted.is_some())
}

#[tracing::instrument(skip(db))]
pub async fn alias_history(db: &Db, model_id: Uuid, limit: i64) -> AppResult<Vec<AliasEventRow>> {
    let rows = sqlx::query_as!(
        AliasEventRow,
        r#"SELECT model_id, alias, version, changed_by, changed_at FROM model_alias_events
         WHERE model_id = $1 ORDER BY id DESC LIMIT $2"#,
        model_id,
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn delete_version(db: &Db, id: Uuid) -> AppResult<bool> {
    let done = sqlx::query!(r#"DELETE FROM model_versions WHERE id = $1"#, id,)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

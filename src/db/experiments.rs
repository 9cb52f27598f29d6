//! Experiments: named groups of runs inside a project.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::Db;
use crate::db::KeyValues;
use crate::error::{AppError, AppResult, ResultExt};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExperimentRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub tags: Json<KeyValues>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn duplicate_name() -> AppError {
    AppError::Conflict(
        "an experiment with this name already exists in the project: pick another name".into(),
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
) -> AppResult<ExperimentRow> {
    sqlx::query_as!(
        ExperimentRow,
        r#"INSERT INTO experiments (id, project_id, name, description, tags, created_by)
           VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING id, project_id, name, description, tags AS "tags: Json<KeyValues>",
                     created_by, created_at, updated_at"#,
        Uuid::now_v7(),
        project_id,
        name,
        description,
        Json(tags) as _,
        created_by,
    )
    .fetch_one(db)
    .await
    .on_constraint("experiments_project_name_key", duplicate_name)
}

#[tracing::instrument(skip(db))]
pub async fn update(
    db: &Db,
    id: Uuid,
    name: Option<&str>,
    description: Option<&str>,
    tags: Option<&KeyValues>,
) -> AppResult<Option<ExperimentRow>> {
    sqlx::query_as!(
        ExperimentRow,
        r#"UPDATE experiments SET name = COALESCE($2, name), description = COALESCE($3, description),
                  tags = COALESCE($4, tags), updated_at = now()
           WHERE id = $1
           RETURNING id, project_id, name, description, tags AS "tags: Json<KeyValues>",
                     created_by, created_at, updated_at"#,
        id,
        name,
        description,
        tags.map(Json) as _,
    )
    .fetch_optional(db)
    .await
    .on_constraint("experiments_project_name_key", duplicate_name)
}

/// Deletes an experiment with its runs and their data (one statement, cascading).
#[tracing::instrument(skip(db))]
pub async fn delete(db: &Db, id: Uuid) -> AppResult<bool> {
    let done = sqlx::query!("DELETE FROM experiments WHERE id = $1", id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

#[tracing::instrument(skip(db))]
pub async fn find_many(db: &Db, ids: &[Uuid]) -> AppResult<Vec<ExperimentRow>> {
    let rows = sqlx::query_as!(
        ExperimentRow,
        r#"SELECT id, project_id, name, description, tags AS "tags: Json<KeyValues>",
                  created_by, created_at, updated_at
           FROM experiments WHERE id = ANY($1)"#,
        ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// One page of experiments for each project, in one statement.
#[tracing::instrument(skip(db))]
pub async fn pages_by_project(
    db: &Db,
    project_ids: &[Uuid],
    after: Option<Uuid>,
    limit: i64,
) -> AppResult<Vec<ExperimentRow>> {
    let rows = sqlx::query_as!(
        ExperimentRow,
        r#"SELECT e.id AS "id!", e.project_id AS "project_id!", e.name AS "name!", e.description,
                  e.tags AS "tags!: Json<KeyValues>", e.created_by,
                  e.created_at AS "created_at!", e.updated_at AS "updated_at!"
           FROM unnest($1::uuid[]) AS parent(id)
           CROSS JOIN LATERAL (
               SELECT * FROM experiments
               WHERE project_id = parent.id AND id > coalesce($2::uuid, '00000000-0000-0000-0000-000000000000')
               ORDER BY id LIMIT $3
           ) e"#,
        project_ids,
        after,
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn counts_by_project(db: &Db, project_ids: &[Uuid]) -> AppResult<Vec<(Uuid, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT project_id, count(*) AS "count!" FROM experiments
           WHERE project_id = ANY($1) GROUP BY project_id"#,
        project_ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.project_id, r.count)).collect())
}

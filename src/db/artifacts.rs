//! Artifacts: files of runs and model versions, whose bytes live in the object store.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::Db;
use crate::error::{AppError, AppResult, ResultExt};

/// Whether an artifact's bytes are in the store.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ArtifactStatus {
    /// Created; the bytes are not confirmed in storage yet.
    Pending,
    /// Stored and checked.
    Available,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArtifactRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub run_id: Option<Uuid>,
    pub model_version_id: Option<Uuid>,
    pub path: String,
    pub size_bytes: i64,
    pub content_type: String,
    pub sha256: Option<String>,
    pub status: ArtifactStatus,
    pub object_key: String,
    pub upload_id: Option<String>,
    pub upload_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl ArtifactRow {
    /// The run, or the nil id (for grouping by owner).
    pub fn run_id_or_nil(&self) -> Uuid {
        self.run_id.unwrap_or_default()
    }

    pub fn version_id_or_nil(&self) -> Uuid {
        self.model_version_id.unwrap_or_default()
    }
}

/// Who an artifact belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    Run(Uuid),
    ModelVersion(Uuid),
}

pub struct NewArtifact<'a> {
    pub id: Uuid,
    pub project_id: Uuid,
    pub owner: Owner,
    pub path: &'a str,
    pub size_bytes: i64,
    pub content_type: &'a str,
    pub sha256: Option<&'a str>,
    pub object_key: &'a str,
    pub upload_id: Option<&'a str>,
    pub upload_expires_at: DateTime<Utc>,
    pub created_by: Uuid,
}

fn duplicate_path() -> AppError {
    AppError::Conflict(
        "an artifact with this path already exists here: delete it first or pick another path"
            .into(),
    )
}

#[tracing::instrument(skip_all)]
pub async fn insert(db: &Db, a: NewArtifact<'_>) -> AppResult<ArtifactRow> {
    let (run_id, version_id) = match a.owner {
        Owner::Run(id) => (Some(id), None),
        Owner::ModelVersion(id) => (None, Some(id)),
    };
    let result = sqlx::query_as!(
        ArtifactRow,
        r#"INSERT INTO artifacts (id, project_id, run_id, model_version_id, path, size_bytes, content_type,
                                sha256, object_key, upload_id, upload_expires_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         RETURNING id, project_id, run_id, model_version_id, path, size_bytes, content_type, sha256, status AS "status: ArtifactStatus", object_key, upload_id, upload_expires_at, created_at"#,
        a.id,
        a.project_id,
        run_id,
        version_id,
        a.path,
        a.size_bytes,
        a.content_type,
        a.sha256,
        a.object_key,
        a.upload_id,
        a.upload_expires_at,
        a.created_by,
    )
    .fetch_one(db)
    .await;
    match a.owner {
        Owner::Run(_) => result.on_constraint("artifacts_run_path_key", duplicate_path),
        Owner::ModelVersion(_) => {
            result.on_constraint("artifacts_version_path_key", duplicate_path)
        }
    }
}

#[tracing::instrument(skip(db))]
pub async fn find_many(db: &Db, ids: &[Uuid]) -> AppResult<Vec<ArtifactRow>> {
    let rows = sqlx::query_as!(
        ArtifactRow,
        r#"SELECT id, project_id, run_id, model_version_id, path, size_bytes, content_type, sha256, status AS "status: ArtifactStatus", object_key, upload_id, upload_expires_at, created_at FROM artifacts WHERE id = ANY($1)"#,
        ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn of_runs(db: &Db, run_ids: &[Uuid]) -> AppResult<Vec<ArtifactRow>> {
    let rows = sqlx::query_as!(
        ArtifactRow,
        r#"SELECT id, project_id, run_id, model_version_id, path, size_bytes, content_type, sha256, status AS "status: ArtifactStatus", object_key, upload_id, upload_expires_at, created_at FROM artifacts WHERE run_id = ANY($1) ORDER BY run_id, path"#,
        run_ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn of_versions(db: &Db, version_ids: &[Uuid]) -> AppResult<Vec<ArtifactRow>> {
    let rows = sqlx::query_as!(
        ArtifactRow,
        r#"SELECT id, project_id, run_id, model_version_id, path, size_bytes, content_type, sha256, status AS "status: ArtifactStatus", object_key, upload_id, upload_expires_at, created_at FROM artifacts WHERE model_version_id = ANY($1) ORDER BY model_version_id, path"#,
        version_ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// Marks a PENDING artifact AVAILABLE; returns it, or `None` if it was not pending.
#[tracing::instrument(skip(db))]
pub async fn mark_available(
    db: &Db,
    id: Uuid,
    sha256: Option<&str>,
) -> AppResult<Option<ArtifactRow>> {
    let row = sqlx::query_as!(
        ArtifactRow,
        r#"UPDATE artifacts SET status = 'AVAILABLE', completed_at = now(), upload_id = NULL,
                sha256 = COALESCE(sha256, $2)
         WHERE id = $1 AND status = 'PENDING' RETURNING id, project_id, run_id, model_version_id, path, size_bytes, content_type, sha256, status AS "status: ArtifactStatus", object_key, upload_id, upload_expires_at, created_at"#,
        id,
        sha256,
    )
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// Deletes an artifact; its object is queued for deletion by the table's trigger.
#[tracing::instrument(skip(db))]
pub async fn delete(db: &Db, id: Uuid) -> AppResult<bool> {
    let done = sqlx::query!(r#"DELETE FROM artifacts WHERE id = $1"#, id,)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

//! Artifact uploads and deletes (EDITOR and above).

use std::time::Duration;

use async_graphql::{Context, ID, Object};
use chrono::Utc;
use uuid::Uuid;

use crate::db::artifacts::{self, ArtifactStatus, NewArtifact, Owner};
use crate::db::projects::ProjectRole;
use crate::error::{AppError, AppResult};
use crate::graphql::access::require;
use crate::graphql::artifact::query::visible_artifact;
use crate::graphql::artifact::types::{
    Artifact, ArtifactUpload, CompletedPartInput, CreateArtifactUploadInput, HttpHeader,
    MultipartUpload, UploadPart,
};
use crate::graphql::context::{principal, state};
use crate::graphql::ids;
use crate::graphql::model::query::visible_version;
use crate::graphql::run::query::visible_run;
use crate::storage::{self, PartETag, Presigned};
use crate::validate;

/// Longest content type accepted.
const MAX_CONTENT_TYPE_CHARS: usize = 255;

#[derive(Default)]
pub struct ArtifactMutation;

fn headers(p: &Presigned) -> Vec<HttpHeader> {
    p.headers
        .iter()
        .map(|(name, value)| HttpHeader {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

fn check_content_type(raw: Option<&str>) -> AppResult<String> {
    let ct = raw.unwrap_or("application/octet-stream").trim();
    let valid = !ct.is_empty()
        && ct.len() <= MAX_CONTENT_TYPE_CHARS
        && ct.contains('/')
        && ct.chars().all(|c| c.is_ascii_graphic() || c == ' ');
    if !valid {
        return Err(AppError::validation(
            "contentType",
            "a MIME type such as `application/octet-stream`",
        ));
    }
    Ok(ct.to_string())
}

fn check_sha256(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw {
        None => Ok(None),
        Some(s) if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) => {
            Ok(Some(s.to_ascii_lowercase()))
        }
        Some(_) => Err(AppError::validation("sha256", "64 hexadecimal characters")),
    }
}

#[Object]
impl ArtifactMutation {
    /// Registers an artifact (PENDING) on a run or a model version and returns where to
    /// upload its bytes: one signed PUT URL, or signed part URLs for files over 64 MiB.
    /// Then call `completeArtifactUpload`.
    async fn create_artifact_upload(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The file to upload.")] input: CreateArtifactUploadInput,
    ) -> AppResult<ArtifactUpload> {
        let state = state(ctx);
        let (owner, seen, owner_path) = match (&input.run_id, &input.model_version_id) {
            (Some(run_id), None) => {
                let run = visible_run(ctx, ids::parse("runId", run_id)?)
                    .await?
                    .ok_or_else(|| AppError::not_found("run"))?;
                let seen = require(ctx, run.row().project_id, ProjectRole::Editor, "run").await?;
                (
                    Owner::Run(run.row().id),
                    seen,
                    format!("r/{}", run.row().id.simple()),
                )
            }
            (None, Some(version_id)) => {
                let version = visible_version(ctx, ids::parse("modelVersionId", version_id)?)
                    .await?
                    .ok_or_else(|| AppError::not_found("model version"))?;
                let seen = require(
                    ctx,
                    version.row().project_id,
                    ProjectRole::Editor,
                    "model version",
                )
                .await?;
                (
                    Owner::ModelVersion(version.row().id),
                    seen,
                    format!("v/{}", version.row().id.simple()),
                )
            }
            _ => {
                return Err(AppError::validation(
                    "runId",
                    "give exactly one of `runId` or `modelVersionId`",
                ));
            }
        };
        let project_id = seen.project_id();
        validate::artifact_path("path", &input.path)?;
        if !(0..=storage::MAX_ARTIFACT_BYTES).contains(&input.size_bytes) {
            return Err(AppError::validation("sizeBytes", "between 0 and 5 TiB"));
        }
        let content_type = check_content_type(input.content_type.as_deref())?;
        let sha256 = check_sha256(input.sha256.as_deref())?;
        if !state.storage.ping().await {
            return Err(AppError::Unavailable(
                "the object store is unavailable; retry shortly".into(),
            ));
        }
        let id = Uuid::now_v7();
        // Built from ids only: user text never reaches the store's namespace. Kept short
        // (`p/{project}/r/{run}/{artifact}`) as some stores derive file names from keys.
        let key = format!("p/{}/{owner_path}/{}", project_id.simple(), id.simple());
        let ttl = Duration::from_secs(state.config.upload_url_ttl_secs);
        let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
        let multipart = input.size_bytes > storage::MULTIPART_THRESHOLD_BYTES;
        let upload_id = if multipart {
            Some(state.storage.start_multipart(&key, &content_type).await?)
        } else {
            None
        };
        let pending_until =
            Utc::now() + chrono::Duration::seconds(state.config.pending_upload_ttl_secs as i64);
        let row = artifacts::insert(
            &state.db,
            NewArtifact {
                id,
                project_id,
                owner,
                path: &input.path,
                size_bytes: input.size_bytes,
                content_type: &content_type,
                sha256: sha256.as_deref(),
                object_key: &key,
                upload_id: upload_id.as_deref(),
                upload_expires_at: pending_until.max(expires_at),
                created_by: principal(ctx)?.user_id,
            },
        )
        .await;
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                if let Some(upload_id) = &upload_id {
                    let _ = state.storage.abort_multipart(&key, upload_id).await;
                }
                return Err(e);
            }
        };
        if let Some(upload_id) = upload_id {
            let count = (input.size_bytes + storage::MULTIPART_PART_BYTES - 1)
                / storage::MULTIPART_PART_BYTES;
            let mut parts = Vec::with_capacity(count as usize);
            for n in 1..=count as i32 {
                let signed = state.storage.presign_part(&key, &upload_id, n, ttl).await?;
                parts.push(UploadPart {
                    part_number: n,
                    headers: headers(&signed),
                    url: signed.url,
                });
            }
            let multipart = MultipartUpload {
                part_size: storage::MULTIPART_PART_BYTES,
                parts,
            };
            return Ok(ArtifactUpload {
                artifact: Artifact::new(row, seen)?,
                upload_url: None,
                upload_headers: Vec::new(),
                multipart: Some(multipart),
                expires_at,
            });
        }
        let signed = state
            .storage
            .presign_put(
                &key,
                &content_type,
                input.size_bytes,
                sha256.as_deref(),
                ttl,
            )
            .await?;
        Ok(ArtifactUpload {
            artifact: Artifact::new(row, seen)?,
            upload_headers: headers(&signed),
            upload_url: Some(signed.url),
            multipart: None,
            expires_at,
        })
    }

    /// Checks that the uploaded object exists with the declared size (and checksum) and
    /// marks the artifact AVAILABLE; otherwise refuses and it stays PENDING. For a
    /// multipart upload, give the parts' numbers and ETags.
    async fn complete_artifact_upload(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The artifact's id.")] id: ID,
        #[graphql(desc = "For a multipart upload: every part, with its ETag.")] parts: Option<
            Vec<CompletedPartInput>,
        >,
    ) -> AppResult<Artifact> {
        let state = state(ctx);
        let artifact = editable(ctx, &id).await?;
        let row = &artifact.row();
        if row.status == ArtifactStatus::Available {
            return Ok(artifact);
        }
        if let Some(upload_id) = &row.upload_id {
            let parts = parts.ok_or_else(|| {
                AppError::validation(
                    "parts",
                    "a multipart upload needs its parts' numbers and ETags",
                )
            })?;
            let parts: Vec<PartETag> = parts
                .into_iter()
                .map(|p| PartETag {
                    part_number: p.part_number,
                    etag: p.etag,
                })
                .collect();
            state
                .storage
                .complete_multipart(&row.object_key, upload_id, &parts)
                .await?;
        }
        let info = state.storage.head(&row.object_key).await?.ok_or_else(|| {
            AppError::validation(
                "id",
                "nothing was uploaded yet: PUT the bytes to the upload URL first",
            )
        })?;
        if info.size != row.size_bytes {
            return Err(AppError::validation(
                "id",
                format!(
                    "the stored object has {} bytes, not the declared {}: upload again",
                    info.size, row.size_bytes
                ),
            ));
        }
        let stored_sha = match (&row.sha256, info.sha256) {
            // The store kept no checksum: read the object through to check the declared one.
            (Some(_), None) => Some(state.storage.sha256_of(&row.object_key).await?),
            (_, reported) => reported,
        };
        if let (Some(want), Some(got)) = (&row.sha256, &stored_sha)
            && want != got
        {
            return Err(AppError::validation(
                "id",
                "the stored object's SHA-256 differs from the declared one: upload the right bytes again",
            ));
        }
        let done = artifacts::mark_available(&state.db, row.id, stored_sha.as_deref()).await?;
        match done {
            Some(row) => Artifact::new(row, artifact.seen()),
            None => visible_artifact(ctx, row.id)
                .await?
                .ok_or_else(|| AppError::not_found("artifact")),
        }
    }

    /// Deletes an artifact (or abandons a PENDING upload); its object is removed from the
    /// store, retried until the store confirms.
    async fn delete_artifact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The artifact's id.")] id: ID,
    ) -> AppResult<bool> {
        let state = state(ctx);
        let artifact = editable(ctx, &id).await?;
        let deleted = artifacts::delete(&state.db, artifact.row().id).await?;
        state.storage.wake.notify_one();
        Ok(deleted)
    }
}

async fn editable(ctx: &Context<'_>, id: &ID) -> AppResult<Artifact> {
    let id = ids::parse("id", id)?;
    let artifact = visible_artifact(ctx, id)
        .await?
        .ok_or_else(|| AppError::not_found("artifact"))?;
    require(
        ctx,
        artifact.row().project_id,
        ProjectRole::Editor,
        "artifact",
    )
    .await?;
    Ok(artifact)
}

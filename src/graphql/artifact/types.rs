//! GraphQL types of artifacts and uploads.

use std::time::Duration;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::db::artifacts::{ArtifactRow, ArtifactStatus};
use crate::error::{AppError, AppResult};
use crate::graphql::access::loader;
use crate::graphql::access::project_object;
use crate::graphql::context::state;
use crate::graphql::ids::to_id;
use crate::graphql::loaders::{RunKey, VersionKey};
use crate::graphql::model::types::ModelVersion;
use crate::graphql::run::types::Run;

project_object!(Artifact, ArtifactRow, project_id);

/// A file of a run or a model version. Its bytes live in the object store and move
/// through short-lived signed URLs.
#[Object]
impl Artifact {
    /// The artifact's id.
    async fn id(&self) -> ID {
        to_id(self.row.id)
    }
    /// Relative path, unique within its run or model version.
    async fn path(&self) -> &str {
        &self.row.path
    }
    /// Size in bytes, as declared at upload and checked at completion (at most 5 TiB).
    async fn size_bytes(&self) -> i64 {
        self.row.size_bytes
    }
    /// The media type it is served with.
    async fn content_type(&self) -> &str {
        &self.row.content_type
    }
    /// Hex SHA-256 of the content, when declared at upload (then checked) or reported by
    /// the store.
    async fn sha256(&self) -> Option<&str> {
        self.row.sha256.as_deref()
    }
    /// PENDING until `completeArtifactUpload` confirmed the bytes, then AVAILABLE.
    async fn status(&self) -> ArtifactStatus {
        self.row.status
    }
    /// When the upload was registered.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// The run it belongs to, if any.
    async fn run(&self, ctx: &Context<'_>) -> AppResult<Option<Run>> {
        let Some(id) = self.row.run_id else {
            return Ok(None);
        };
        loader(ctx)
            .load_one(RunKey(id))
            .await?
            .map(|row| Run::new(row, self.seen))
            .transpose()
    }
    /// The model version it belongs to, if any.
    async fn model_version(&self, ctx: &Context<'_>) -> AppResult<Option<ModelVersion>> {
        let Some(id) = self.row.model_version_id else {
            return Ok(None);
        };
        loader(ctx)
            .load_one(VersionKey(id))
            .await?
            .map(|row| ModelVersion::new(row, self.seen))
            .transpose()
    }
    /// A signed GET URL, minted now and valid for a few minutes (null while PENDING).
    async fn download_url(&self, ctx: &Context<'_>) -> AppResult<Option<String>> {
        if self.row.status != ArtifactStatus::Available {
            return Ok(None);
        }
        let state = state(ctx);
        if !state.storage.seems_healthy() {
            return Err(AppError::Unavailable(
                "the object store is unavailable; retry shortly".into(),
            ));
        }
        let ttl = Duration::from_secs(state.config.download_url_ttl_secs);
        let filename = self.row.path.rsplit('/').next().unwrap_or("artifact");
        let signed = state
            .storage
            .presign_get(&self.row.object_key, ttl, filename)
            .await?;
        Ok(Some(signed.url))
    }
}

/// An HTTP header a client must send with a signed URL.
#[derive(SimpleObject, Clone)]
pub struct HttpHeader {
    /// The header's name.
    pub name: String,
    /// Its exact value.
    pub value: String,
}

/// One part of a multipart upload: PUT the part's bytes to `url`, keep the `ETag`
/// response header for `completeArtifactUpload`.
#[derive(SimpleObject)]
pub struct UploadPart {
    /// The part's number, from 1.
    pub part_number: i32,
    /// The signed URL to PUT the part to.
    pub url: String,
    /// Headers to send with the PUT.
    pub headers: Vec<HttpHeader>,
}

/// How to upload a large file: in parts of `partSize` bytes (the last one shorter).
#[derive(SimpleObject)]
pub struct MultipartUpload {
    /// Bytes in every part but the last.
    pub part_size: i64,
    /// The parts, in order.
    pub parts: Vec<UploadPart>,
}

/// Where and how to upload an artifact's bytes.
#[derive(SimpleObject)]
pub struct ArtifactUpload {
    /// The artifact, PENDING until `completeArtifactUpload`.
    pub artifact: Artifact,
    /// PUT the whole file here, with `uploadHeaders`; null for a multipart upload.
    pub upload_url: Option<String>,
    /// Headers the PUT must carry exactly (the content type; for S3, the declared
    /// checksum, which a local-disk store carries in the URL instead).
    pub upload_headers: Vec<HttpHeader>,
    /// Set (instead of `uploadUrl`) for files over 64 MiB.
    pub multipart: Option<MultipartUpload>,
    /// When the URLs stop working (at most 15 minutes from now).
    pub expires_at: DateTime<Utc>,
}

/// A file to upload to a run or a model version (EDITOR or OWNER of its project).
#[derive(InputObject)]
pub struct CreateArtifactUploadInput {
    /// The run to attach it to (or give `modelVersionId`).
    pub run_id: Option<ID>,
    /// The model version to attach it to (or give `runId`).
    pub model_version_id: Option<ID>,
    /// Relative path such as `checkpoints/model.pt`.
    pub path: String,
    /// The exact size in bytes, 0 to 5 TiB.
    pub size_bytes: i64,
    /// Default `application/octet-stream`.
    pub content_type: Option<String>,
    /// Hex SHA-256 of the content: the store then refuses other bytes.
    pub sha256: Option<String>,
}

/// A part uploaded in a multipart upload.
#[derive(InputObject)]
pub struct CompletedPartInput {
    /// The part's number, as given in `MultipartUpload.parts`.
    pub part_number: i32,
    /// The `ETag` response header of the part's PUT.
    pub etag: String,
}

//! Where artifact bytes live: one interface, two backends. S3-compatible storage (AWS S3,
//! MinIO) when configured, else the local disk with URLs signed and served by this
//! process. Clients move bytes directly with the short-lived URLs handed out here; the
//! GraphQL API never carries them.

pub mod janitor;
pub mod local;
pub mod s3;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::AppError;

/// Files larger than this are uploaded in parts.
pub const MULTIPART_THRESHOLD_BYTES: i64 = 64 * 1024 * 1024;
/// Size of each part but the last.
pub const MULTIPART_PART_BYTES: i64 = 64 * 1024 * 1024;
/// Most parts of one upload (S3's limit).
pub const MAX_PARTS: i64 = 10_000;
/// Largest artifact (S3's object limit, 5 TiB).
pub const MAX_ARTIFACT_BYTES: i64 = 5 * 1024 * 1024 * 1024 * 1024;

/// A URL a client may use until it expires, and the headers it must send with it.
#[derive(Debug, Clone)]
pub struct Presigned {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// What the store knows of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: i64,
    /// Hex SHA-256 of the content, when the store computed or verified one.
    pub sha256: Option<String>,
}

/// A part of a multipart upload, as the client reports it at completion.
#[derive(Debug, Clone)]
pub struct PartETag {
    pub part_number: i32,
    pub etag: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The store cannot be reached or failed.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    /// The store refused what the client asked for.
    #[error("{0}")]
    Invalid(String),
}

impl From<StorageError> for AppError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Unavailable(cause) => {
                tracing::error!(%cause, "object store unavailable");
                AppError::Unavailable("the object store is unavailable; retry shortly".into())
            }
            StorageError::Invalid(message) => AppError::validation("parts", message),
        }
    }
}

pub enum Backend {
    S3(s3::S3Store),
    Local(local::LocalStore),
}

/// The artifact store, with its last known health.
#[derive(Clone)]
pub struct Storage {
    backend: Arc<Backend>,
    healthy: Arc<AtomicBool>,
    /// Wakes the janitor when objects were queued for deletion.
    pub wake: Arc<tokio::sync::Notify>,
}

/// A `Content-Disposition` value that downloads under the artifact's file name.
pub fn attachment(filename: &str) -> String {
    let safe: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("attachment; filename=\"{safe}\"")
}

macro_rules! on_backend {
    ($self:ident, $store:ident => $call:expr) => {{
        let result = match &*$self.backend {
            Backend::S3($store) => $call.await,
            Backend::Local($store) => $call.await,
        };
        $self.note(&result);
        result
    }};
}

impl Storage {
    pub fn new(backend: Backend) -> Self {
        Storage {
            backend: Arc::new(backend),
            healthy: Arc::new(AtomicBool::new(true)),
            wake: Arc::default(),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match &*self.backend {
            Backend::S3(_) => "s3",
            Backend::Local(_) => "local-disk",
        }
    }

    pub fn local(&self) -> Option<&local::LocalStore> {
        match &*self.backend {
            Backend::Local(store) => Some(store),
            Backend::S3(_) => None,
        }
    }

    fn note<T>(&self, result: &Result<T, StorageError>) {
        match result {
            Err(StorageError::Unavailable(_)) => self.healthy.store(false, Ordering::Relaxed),
            _ => self.healthy.store(true, Ordering::Relaxed),
        }
    }

    /// Whether the last operation or probe reached the store.
    pub fn seems_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Probes the store (bucket or directory) and records the answer.
    pub async fn ping(&self) -> bool {
        let ok = match &*self.backend {
            Backend::S3(store) => store.ping().await,
            Backend::Local(store) => store.ping().await,
        };
        self.healthy.store(ok, Ordering::Relaxed);
        ok
    }

    /// Creates the bucket or directory if missing.
    pub async fn ensure_ready(&self) -> Result<(), StorageError> {
        on_backend!(self, s => s.ensure_bucket())
    }

    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: i64,
        sha256: Option<&str>,
        ttl: Duration,
    ) -> Result<Presigned, StorageError> {
        on_backend!(self, s => s.presign_put(key, content_type, size, sha256, ttl))
    }

    pub async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        filename: &str,
    ) -> Result<Presigned, StorageError> {
        on_backend!(self, s => s.presign_get(key, ttl, filename))
    }

    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        on_backend!(self, s => s.head(key))
    }

    /// The SHA-256 of an object's content, read through when the store keeps none.
    pub async fn sha256_of(&self, key: &str) -> Result<String, StorageError> {
        on_backend!(self, s => s.sha256_of(key))
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        on_backend!(self, s => s.delete(key))
    }

    pub async fn start_multipart(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<String, StorageError> {
        on_backend!(self, s => s.start_multipart(key, content_type))
    }

    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        ttl: Duration,
    ) -> Result<Presigned, StorageError> {
        on_backend!(self, s => s.presign_part(key, upload_id, part_number, ttl))
    }

    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[PartETag],
    ) -> Result<(), StorageError> {
        on_backend!(self, s => s.complete_multipart(key, upload_id, parts))
    }

    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StorageError> {
        on_backend!(self, s => s.abort_multipart(key, upload_id))
    }

    /// Keys under a prefix (for tests and operators).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        on_backend!(self, s => s.list(prefix))
    }
}

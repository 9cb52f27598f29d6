//! Local-disk storage for the embedded default: objects under `MAESTRO_DATA_DIR`, URLs
//! signed by this process (HMAC-SHA256 over method, key, expiry and the upload's
//! declared properties) and served by it at `/storage/…` (see `http::storage`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::storage::{ObjectInfo, PartETag, Presigned, StorageError};

type HmacSha256 = Hmac<Sha256>;

pub struct LocalStore {
    root: PathBuf,
    base_url: String,
    key: Vec<u8>,
}

/// The query of a signed URL. Every field but `sig` is covered by the signature.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SignedParams {
    pub expires: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub sig: String,
}

/// Size and checksum kept beside each object.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    size: i64,
    sha256: String,
}

fn io(err: std::io::Error) -> StorageError {
    StorageError::Unavailable(err.to_string())
}

/// Keys are built by the server from ids; refuse anything else before touching the disk.
pub fn safe_key(key: &str) -> bool {
    !key.is_empty()
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

impl LocalStore {
    pub fn new(root: PathBuf, base_url: String, key: Vec<u8>) -> Self {
        LocalStore {
            root,
            base_url: base_url.trim_end_matches('/').to_string(),
            key,
        }
    }

    fn object_path(&self, key: &str) -> Result<PathBuf, StorageError> {
        if !safe_key(key) {
            return Err(StorageError::Invalid("invalid object key".into()));
        }
        Ok(self.root.join("objects").join(key))
    }

    fn meta_path(path: &Path) -> PathBuf {
        let mut p = path.as_os_str().to_owned();
        p.push(".meta");
        PathBuf::from(p)
    }

    fn upload_dir(&self, upload_id: &str) -> Result<PathBuf, StorageError> {
        if upload_id.parse::<Uuid>().is_err() {
            return Err(StorageError::Invalid("unknown upload".into()));
        }
        Ok(self.root.join("uploads").join(upload_id))
    }

    fn signature(&self, method: &str, key: &str, params: &SignedParams) -> String {
        let mut unsigned = params.clone();
        unsigned.sig = String::new();
        let canonical = format!(
            "{method}\n{key}\n{}",
            serde_json::to_string(&unsigned).unwrap_or_default()
        );
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(canonical.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether a request's signature matches and has not expired.
    pub fn verify(&self, method: &str, key: &str, params: &SignedParams) -> bool {
        let expected = self.signature(method, key, params);
        let fresh = params.expires > chrono::Utc::now().timestamp();
        // Constant-time comparison: every byte is looked at whatever differs first.
        let same = expected.len() == params.sig.len()
            && expected
                .bytes()
                .zip(params.sig.bytes())
                .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                == 0;
        fresh && same
    }

    fn sign_url(
        &self,
        method: &str,
        key: &str,
        mut params: SignedParams,
        ttl: Duration,
    ) -> Presigned {
        params.expires = chrono::Utc::now().timestamp() + ttl.as_secs() as i64;
        params.sig = self.signature(method, key, &params);
        let query = serde_urlencoded_pairs(&params);
        Presigned {
            url: format!("{}/storage/{key}?{query}", self.base_url),
            headers: Vec::new(),
        }
    }

    pub async fn ensure_bucket(&self) -> Result<(), StorageError> {
        tokio::fs::create_dir_all(self.root.join("objects"))
            .await
            .map_err(io)?;
        tokio::fs::create_dir_all(self.root.join("uploads"))
            .await
            .map_err(io)?;
        Ok(())
    }

    pub async fn ping(&self) -> bool {
        tokio::fs::metadata(self.root.join("objects"))
            .await
            .is_ok_and(|m| m.is_dir())
    }

    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: i64,
        sha256: Option<&str>,
        ttl: Duration,
    ) -> Result<Presigned, StorageError> {
        self.object_path(key)?;
        let params = SignedParams {
            size: Some(size),
            content_type: Some(content_type.to_string()),
            sha256: sha256.map(str::to_string),
            ..SignedParams::default()
        };
        let mut signed = self.sign_url("PUT", key, params, ttl);
        signed
            .headers
            .push(("content-type".into(), content_type.to_string()));
        Ok(signed)
    }

    pub async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        filename: &str,
    ) -> Result<Presigned, StorageError> {
        self.object_path(key)?;
        let params = SignedParams {
            name: Some(filename.to_string()),
            ..SignedParams::default()
        };
        Ok(self.sign_url("GET", key, params, ttl))
    }

    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        let path = self.object_path(key)?;
        match tokio::fs::read(Self::meta_path(&path)).await {
            Ok(bytes) => {
                let meta: Meta = serde_json::from_slice(&bytes)
                    .map_err(|e| StorageError::Unavailable(e.to_string()))?;
                Ok(Some(ObjectInfo {
                    size: meta.size,
                    sha256: Some(meta.sha256),
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    pub async fn sha256_of(&self, key: &str) -> Result<String, StorageError> {
        self.head(key)
            .await?
            .and_then(|i| i.sha256)
            .ok_or_else(|| StorageError::Invalid("no such object".into()))
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.object_path(key)?;
        for p in [Self::meta_path(&path), path] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(())
    }

    pub async fn start_multipart(
        &self,
        key: &str,
        _content_type: &str,
    ) -> Result<String, StorageError> {
        self.object_path(key)?;
        let id = Uuid::new_v4().to_string();
        let dir = self.upload_dir(&id)?;
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        tokio::fs::write(dir.join("key"), key).await.map_err(io)?;
        Ok(id)
    }

    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        ttl: Duration,
    ) -> Result<Presigned, StorageError> {
        self.upload_dir(upload_id)?;
        let params = SignedParams {
            upload: Some(upload_id.to_string()),
            part: Some(part_number),
            ..SignedParams::default()
        };
        Ok(self.sign_url("PUT", key, params, ttl))
    }

    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[PartETag],
    ) -> Result<(), StorageError> {
        let dir = self.upload_dir(upload_id)?;
        let owner = tokio::fs::read_to_string(dir.join("key"))
            .await
            .map_err(|_| StorageError::Invalid("unknown upload".into()))?;
        if owner != key {
            return Err(StorageError::Invalid("unknown upload".into()));
        }
        let path = self.object_path(key)?;
        let tmp = dir.join("assembled");
        let mut out = tokio::fs::File::create(&tmp).await.map_err(io)?;
        let mut hasher = Sha256::new();
        let mut size = 0i64;
        for (i, part) in parts.iter().enumerate() {
            if part.part_number != i as i32 + 1 {
                return Err(StorageError::Invalid(
                    "parts must be numbered 1, 2, 3 … in order".into(),
                ));
            }
            let bytes = tokio::fs::read(dir.join(format!("part-{}", part.part_number)))
                .await
                .map_err(|_| {
                    StorageError::Invalid(format!("part {} was not uploaded", part.part_number))
                })?;
            if part.etag.trim_matches('"') != hex::encode(Sha256::digest(&bytes)) {
                return Err(StorageError::Invalid(format!(
                    "the ETag of part {} does not match",
                    part.part_number
                )));
            }
            hasher.update(&bytes);
            size += bytes.len() as i64;
            out.write_all(&bytes).await.map_err(io)?;
        }
        out.flush().await.map_err(io)?;
        drop(out);
        self.install(&tmp, &path, size, hex::encode(hasher.finalize()))
            .await?;
        tokio::fs::remove_dir_all(&dir).await.map_err(io)?;
        Ok(())
    }

    pub async fn abort_multipart(&self, _key: &str, upload_id: &str) -> Result<(), StorageError> {
        let dir = self.upload_dir(upload_id)?;
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let base = self.root.join("objects");
        let mut out = Vec::new();
        let mut stack = vec![base.clone()];
        while let Some(dir) = stack.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(io)? {
                let path = entry.path();
                if entry.file_type().await.map_err(io)?.is_dir() {
                    stack.push(path);
                } else if path.extension().is_none_or(|e| e != "meta") {
                    let key = path
                        .strip_prefix(&base)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .replace('\\', "/");
                    if key.starts_with(prefix) {
                        out.push(key);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Stores an uploaded body (already checked against its signature's size and checksum).
    pub async fn put_object(
        &self,
        key: &str,
        tmp: &Path,
        size: i64,
        sha256: String,
    ) -> Result<(), StorageError> {
        let path = self.object_path(key)?;
        self.install(tmp, &path, size, sha256).await
    }

    /// Stores one part of a multipart upload; returns its ETag.
    pub async fn put_part(
        &self,
        upload_id: &str,
        part: i32,
        tmp: &Path,
        sha256: String,
    ) -> Result<String, StorageError> {
        let dir = self.upload_dir(upload_id)?;
        if tokio::fs::metadata(&dir).await.is_err() {
            return Err(StorageError::Invalid("unknown upload".into()));
        }
        tokio::fs::rename(tmp, dir.join(format!("part-{part}")))
            .await
            .map_err(io)?;
        Ok(sha256)
    }

    /// A scratch file for an incoming body.
    pub fn scratch(&self) -> PathBuf {
        self.root
            .join("uploads")
            .join(format!("incoming-{}", Uuid::new_v4()))
    }

    pub fn path_of(&self, key: &str) -> Result<PathBuf, StorageError> {
        self.object_path(key)
    }

    async fn install(
        &self,
        tmp: &Path,
        path: &Path,
        size: i64,
        sha256: String,
    ) -> Result<(), StorageError> {
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        tokio::fs::rename(tmp, path).await.map_err(io)?;
        let meta = serde_json::to_vec(&Meta { size, sha256 })
            .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        tokio::fs::write(Self::meta_path(path), meta)
            .await
            .map_err(io)?;
        Ok(())
    }
}

/// `k=v&…` with percent-encoding, from the signed parameters.
fn serde_urlencoded_pairs(params: &SignedParams) -> String {
    let value = serde_json::to_value(params).unwrap_or_default();
    let mut pairs = Vec::new();
    if let serde_json::Value::Object(map) = value {
        for (k, v) in map {
            let v = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            pairs.push(format!("{k}={}", percent(&v)));
        }
    }
    pairs.join("&")
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> LocalStore {
        LocalStore::new(
            PathBuf::from("/nonexistent"),
            "http://h".into(),
            vec![1; 32],
        )
    }

    #[test]
    fn a_signature_covers_every_parameter_and_expires() {
        let s = store();
        let mut p = SignedParams {
            size: Some(10),
            content_type: Some("text/plain".into()),
            ..SignedParams::default()
        };
        p.expires = chrono::Utc::now().timestamp() + 60;
        p.sig = s.signature("PUT", "a/b", &p);
        assert!(s.verify("PUT", "a/b", &p));
        assert!(!s.verify("GET", "a/b", &p), "method is signed");
        assert!(!s.verify("PUT", "a/c", &p), "key is signed");
        let mut bigger = p.clone();
        bigger.size = Some(11);
        assert!(!s.verify("PUT", "a/b", &bigger), "size is signed");
        let mut old = p.clone();
        old.expires = chrono::Utc::now().timestamp() - 1;
        old.sig = s.signature("PUT", "a/b", &old);
        assert!(!s.verify("PUT", "a/b", &old), "expired");
    }

    #[test]
    fn only_server_built_keys_are_accepted() {
        assert!(safe_key("projects/0b1c/runs/x-y_z"));
        for bad in [
            "",
            "../etc/passwd",
            "a//b",
            "a/./b",
            "/abs",
            "a/b.txt",
            "a\\b",
        ] {
            assert!(!safe_key(bad), "{bad}");
        }
    }
}

//! S3-compatible storage (AWS S3, MinIO) through aws-sdk-s3, path-style addressing.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, retry::RetryConfig};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{ChecksumMode, CompletedMultipartUpload, CompletedPart};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::storage::{ObjectInfo, PartETag, Presigned, StorageError};

pub struct S3Settings {
    pub endpoint: Option<String>,
    /// Endpoint clients reach, when it differs from the server's (compose networks).
    pub public_endpoint: Option<String>,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    pub bucket: String,
    /// Origins whose browsers upload and download straight to the bucket: the web app's
    /// own and `MAESTRO_CORS_ORIGINS`.
    pub browser_origins: Vec<String>,
}

pub struct S3Store {
    /// Talks to the store.
    client: Client,
    /// Signs URLs for clients (same as `client` unless a public endpoint is set).
    presigner: Client,
    bucket: String,
    browser_origins: Vec<String>,
}

fn client(settings: &S3Settings, endpoint: Option<&str>) -> Client {
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .credentials_provider(Credentials::new(
            settings.access_key.clone(),
            settings.secret_key.clone(),
            None,
            None,
            "maestro-config",
        ))
        .force_path_style(true)
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        );
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint);
    }
    Client::from_conf(config.build())
}

/// One rule for the browser origins; none when there are none.
fn cors_configuration(origins: &[String]) -> Option<aws_sdk_s3::types::CorsConfiguration> {
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
    if origins.is_empty() {
        return None;
    }
    let rule = CorsRule::builder()
        .set_allowed_origins(Some(origins.to_vec()))
        .allowed_methods("GET")
        .allowed_methods("PUT")
        .allowed_methods("HEAD")
        .allowed_headers("*")
        .expose_headers("ETag")
        .max_age_seconds(3000)
        .build()
        .ok()?;
    CorsConfiguration::builder().cors_rules(rule).build().ok()
}

fn service_error<E: std::fmt::Debug>(err: E) -> StorageError {
    StorageError::Unavailable(format!("{err:?}"))
}

fn presigning(ttl: Duration) -> Result<PresigningConfig, StorageError> {
    PresigningConfig::expires_in(ttl).map_err(|e| StorageError::Invalid(e.to_string()))
}

fn presigned(req: aws_sdk_s3::presigning::PresignedRequest) -> Presigned {
    Presigned {
        url: req.uri().to_string(),
        // Clients set Host and Content-Length from the URL and the body themselves.
        headers: req
            .headers()
            .filter(|(name, _)| {
                !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length")
            })
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

impl S3Store {
    pub fn new(settings: &S3Settings) -> Self {
        let direct = client(settings, settings.endpoint.as_deref());
        let presigner = match &settings.public_endpoint {
            Some(public) => client(settings, Some(public)),
            None => direct.clone(),
        };
        S3Store {
            client: direct,
            presigner,
            bucket: settings.bucket.clone(),
            browser_origins: settings.browser_origins.clone(),
        }
    }

    /// Creates the bucket if missing, then lets the browser origins use it.
    pub async fn ensure_bucket(&self) -> Result<(), StorageError> {
        self.create_bucket().await?;
        self.allow_browsers().await;
        Ok(())
    }

    /// Sets the bucket's CORS rule: browsers on the listed origins may PUT parts and GET
    /// objects through signed URLs and read the ETag of a part. A store that refuses
    /// (some S3-compatible servers do not implement it) is logged, not fatal: the API
    /// works, browser uploads then need the rule set by hand.
    async fn allow_browsers(&self) {
        let Some(cors) = cors_configuration(&self.browser_origins) else {
            return;
        };
        if let Err(e) = self
            .client
            .put_bucket_cors()
            .bucket(&self.bucket)
            .cors_configuration(cors)
            .send()
            .await
        {
            tracing::warn!(
                bucket = %self.bucket,
                origins = ?self.browser_origins,
                error = ?e.as_service_error().map(|s| aws_sdk_s3::error::ProvideErrorMetadata::code(s)),
                "the object store refused the bucket's CORS rule: browser uploads and downloads from these origins need it set on the bucket by hand (PUT, GET, HEAD; expose ETag)"
            );
        }
    }

    async fn create_bucket(&self) -> Result<(), StorageError> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let code = e.as_service_error().and_then(|s| {
                    aws_sdk_s3::error::ProvideErrorMetadata::code(s).map(str::to_string)
                });
                match code.as_deref() {
                    Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists") => Ok(()),
                    _ => Err(service_error(e)),
                }
            }
        }
    }

    pub async fn ping(&self) -> bool {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
    }

    pub async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: i64,
        sha256_hex: Option<&str>,
        ttl: Duration,
    ) -> Result<Presigned, StorageError> {
        let mut req = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size);
        if let Some(hex_digest) = sha256_hex {
            let raw = hex::decode(hex_digest).map_err(|e| StorageError::Invalid(e.to_string()))?;
            req = req.checksum_sha256(STANDARD.encode(raw));
        }
        let signed = req
            .presigned(presigning(ttl)?)
            .await
            .map_err(service_error)?;
        Ok(presigned(signed))
    }

    pub async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        filename: &str,
    ) -> Result<Presigned, StorageError> {
        let signed = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(super::attachment(filename))
            .presigned(presigning(ttl)?)
            .await
            .map_err(service_error)?;
        Ok(presigned(signed))
    }

    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectInfo {
                size: out.content_length().unwrap_or(0),
                sha256: out
                    .checksum_sha256()
                    .and_then(|b64| STANDARD.decode(b64).ok())
                    .map(hex::encode),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(service_error(e)),
        }
    }

    /// Reads the object through and hashes it (for stores that keep no checksum).
    pub async fn sha256_of(&self, key: &str) -> Result<String, StorageError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(service_error)?;
        let mut body = out.body;
        let mut hasher = Sha256::new();
        while let Some(chunk) = body.next().await {
            hasher.update(chunk.map_err(service_error)?);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(service_error)?;
        Ok(())
    }

    pub async fn start_multipart(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<String, StorageError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(service_error)?;
        out.upload_id()
            .map(str::to_string)
            .ok_or_else(|| StorageError::Unavailable("no upload id".into()))
    }

    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        ttl: Duration,
    ) -> Result<Presigned, StorageError> {
        let signed = self
            .presigner
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .presigned(presigning(ttl)?)
            .await
            .map_err(service_error)?;
        Ok(presigned(signed))
    }

    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[PartETag],
    ) -> Result<(), StorageError> {
        let parts = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.part_number)
                    .e_tag(&p.etag)
                    .build()
            })
            .collect();
        let result = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some() => Err(StorageError::Invalid(format!(
                "the store refused to assemble the parts: {}",
                aws_sdk_s3::error::ProvideErrorMetadata::message(
                    e.as_service_error().expect("checked")
                )
                .unwrap_or("check the part numbers and ETags")
            ))),
            Err(e) => Err(service_error(e)),
        }
    }

    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StorageError> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already completed or aborted: nothing left to abort.
            Err(e) if e.as_service_error().is_some() => Ok(()),
            Err(e) => Err(service_error(e)),
        }
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(service_error)?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            token = out.next_continuation_token().map(str::to_string);
            if token.is_none() {
                return Ok(keys);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_of_the_listed_origins_may_put_parts_and_read_their_etags() {
        assert!(cors_configuration(&[]).is_none());
        let cors = cors_configuration(&["https://app.example.com".into()]).unwrap();
        let rule = &cors.cors_rules()[0];
        assert_eq!(rule.allowed_origins(), ["https://app.example.com"]);
        assert_eq!(rule.allowed_methods(), ["GET", "PUT", "HEAD"]);
        assert_eq!(rule.expose_headers(), ["ETag"]);
    }
}

//! The local-disk store's HTTP face: signed PUTs (whole objects or multipart parts) and
//! signed GETs. A tampered or expired URL answers 403, as S3 does.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::storage::Storage;
use crate::storage::local::SignedParams;

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain")],
        message.to_string(),
    )
        .into_response()
}

pub async fn put(
    State(storage): State<Storage>,
    Path(key): Path<String>,
    Query(params): Query<SignedParams>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(store) = storage.local() else {
        return refuse(StatusCode::NOT_FOUND, "not found");
    };
    if !store.verify("PUT", &key, &params) {
        return refuse(
            StatusCode::FORBIDDEN,
            "the signature is invalid or has expired",
        );
    }
    if let Some(expected) = &params.content_type {
        let sent = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if sent != expected {
            return refuse(
                StatusCode::FORBIDDEN,
                "send the Content-Type this URL was signed for",
            );
        }
    }
    // Stream the body to a scratch file, never past the declared size.
    let limit = params.size.unwrap_or(crate::storage::MULTIPART_PART_BYTES);
    let scratch = store.scratch();
    let Ok(mut file) = tokio::fs::File::create(&scratch).await else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable");
    };
    let mut hasher = Sha256::new();
    let mut written: i64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            let _ = tokio::fs::remove_file(&scratch).await;
            return refuse(StatusCode::BAD_REQUEST, "the upload was interrupted");
        };
        written += chunk.len() as i64;
        if written > limit {
            let _ = tokio::fs::remove_file(&scratch).await;
            return refuse(
                StatusCode::BAD_REQUEST,
                "the body is larger than the size this URL was signed for",
            );
        }
        hasher.update(&chunk);
        if file.write_all(&chunk).await.is_err() {
            let _ = tokio::fs::remove_file(&scratch).await;
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable");
        }
    }
    let _ = file.flush().await;
    drop(file);
    let digest = hex::encode(hasher.finalize());
    if params.size.is_some_and(|n| n != written) {
        let _ = tokio::fs::remove_file(&scratch).await;
        return refuse(
            StatusCode::BAD_REQUEST,
            "the body is not the size this URL was signed for",
        );
    }
    if params.sha256.as_deref().is_some_and(|want| want != digest) {
        let _ = tokio::fs::remove_file(&scratch).await;
        return refuse(
            StatusCode::BAD_REQUEST,
            "the body does not match the SHA-256 this URL was signed for",
        );
    }
    let stored = match (&params.upload, params.part) {
        (Some(upload), Some(part)) => store.put_part(upload, part, &scratch, digest).await,
        _ => store
            .put_object(&key, &scratch, written, digest.clone())
            .await
            .map(|()| digest),
    };
    match stored {
        Ok(etag) => (StatusCode::OK, [(header::ETAG, format!("\"{etag}\""))]).into_response(),
        Err(e) => {
            let _ = tokio::fs::remove_file(&scratch).await;
            refuse(StatusCode::BAD_REQUEST, &e.to_string())
        }
    }
}

pub async fn get(
    State(storage): State<Storage>,
    Path(key): Path<String>,
    Query(params): Query<SignedParams>,
) -> Response {
    let Some(store) = storage.local() else {
        return refuse(StatusCode::NOT_FOUND, "not found");
    };
    if !store.verify("GET", &key, &params) {
        return refuse(
            StatusCode::FORBIDDEN,
            "the signature is invalid or has expired",
        );
    }
    let Ok(path) = store.path_of(&key) else {
        return refuse(StatusCode::NOT_FOUND, "not found");
    };
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return refuse(StatusCode::NOT_FOUND, "not found");
    };
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let body = Body::from_stream(tokio_util_stream(file));
    let disposition = crate::storage::attachment(params.name.as_deref().unwrap_or("artifact"));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

/// Reads a file as a stream of chunks without loading it whole.
fn tokio_util_stream(
    mut file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send {
    futures_util::stream::poll_fn(move |cx| {
        use tokio::io::AsyncRead;
        let mut buf = vec![0u8; 64 * 1024];
        let mut read_buf = tokio::io::ReadBuf::new(&mut buf);
        match std::pin::Pin::new(&mut file).poll_read(cx, &mut read_buf) {
            std::task::Poll::Ready(Ok(())) => {
                let n = read_buf.filled().len();
                if n == 0 {
                    std::task::Poll::Ready(None)
                } else {
                    buf.truncate(n);
                    std::task::Poll::Ready(Some(Ok(buf)))
                }
            }
            std::task::Poll::Ready(Err(e)) => std::task::Poll::Ready(Some(Err(e))),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    })
}

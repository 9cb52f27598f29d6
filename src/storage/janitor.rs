//! The storage janitor: deletes the objects queued in `storage_deletions` (retrying with
//! backoff while the store is down), expires abandoned PENDING uploads, and keeps the
//! store's health current. Runs on one process at a time (an advisory lock), and claims
//! rows before use besides.

use std::time::Duration;

use crate::db::Db;
use crate::storage::Storage;

/// How many queued deletions one pass handles.
const BATCH: i64 = 200;

#[derive(sqlx::FromRow)]
struct Queued {
    object_key: String,
    upload_id: Option<String>,
    recheck_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Runs passes every `interval`, or sooner when `storage.wake` is notified.
pub fn spawn(db: Db, storage: Storage, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = pass(&db, &storage).await {
                tracing::warn!(error = %e, "storage janitor pass failed");
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = storage.wake.notified() => {}
            }
        }
    })
}

/// Whether a pass ran, or another process held the janitor's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    Ran,
    Skipped,
}

/// One pass, unless another process is running one (the lock is held on one connection
/// for the pass, and released by PostgreSQL if that connection dies).
pub async fn pass(db: &Db, storage: &Storage) -> anyhow::Result<Pass> {
    let mut conn = db.acquire().await?;
    // The advisory lock that makes the janitor run on one process at a time.
    let locked = sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_lock(hashtext('maestro.storage_janitor')) AS "locked!""#
    )
    .fetch_one(&mut *conn)
    .await?;
    if !locked {
        return Ok(Pass::Skipped);
    }
    let result = work(db, storage).await;
    let _ = sqlx::query_scalar!("SELECT pg_advisory_unlock(hashtext('maestro.storage_janitor'))")
        .fetch_one(&mut *conn)
        .await;
    result.map(|()| Pass::Ran)
}

/// Expires abandoned uploads, then deletes what is queued. Rows are claimed (SKIP LOCKED,
/// next attempt pushed back) before use, so even without the lock no object is deleted
/// twice at once.
async fn work(db: &Db, storage: &Storage) -> anyhow::Result<()> {
    // Deleting the rows queues their objects (trigger), multipart uploads included.
    let expired = sqlx::query!(
        r#"DELETE FROM artifacts WHERE status = 'PENDING' AND upload_expires_at < now()"#,
    )
    .execute(db)
    .await?
    .rows_affected();
    if expired > 0 {
        tracing::info!(expired, "expired abandoned uploads");
    }
    if !storage.ping().await {
        return Ok(());
    }
    let claimed = sqlx::query_as!(
        Queued,
        r#"UPDATE storage_deletions SET attempts = attempts + 1,
                next_attempt_at = now() + interval '1 minute'
         WHERE object_key IN (
             SELECT object_key FROM storage_deletions WHERE next_attempt_at <= now()
             ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING object_key, upload_id, recheck_at"#,
        BATCH,
    )
    .fetch_all(db)
    .await?;
    for item in claimed {
        let mut result = Ok(());
        if let Some(upload_id) = &item.upload_id {
            result = storage.abort_multipart(&item.object_key, upload_id).await;
        }
        if result.is_ok() {
            result = storage.delete(&item.object_key).await;
        }
        match result {
            Ok(()) => match item.recheck_at.filter(|t| *t > chrono::Utc::now()) {
                // Its upload URL still works until then: look again afterwards.
                Some(at) => {
                    sqlx::query!(
        r#"UPDATE storage_deletions SET next_attempt_at = $2, recheck_at = NULL WHERE object_key = $1"#,
        &item.object_key,
        at,
    )
                        .execute(db)
                        .await?;
                }
                None => {
                    sqlx::query!(
                        r#"DELETE FROM storage_deletions WHERE object_key = $1"#,
                        &item.object_key,
                    )
                    .execute(db)
                    .await?;
                }
            },
            Err(e) => {
                sqlx::query!(
        r#"UPDATE storage_deletions SET last_error = $2,
                            next_attempt_at = now() + least(interval '1 hour', interval '2 seconds' * power(2, attempts))
                     WHERE object_key = $1"#,
        &item.object_key,
        e.to_string(),
    )
                .execute(db)
                .await?;
            }
        }
    }
    Ok(())
}

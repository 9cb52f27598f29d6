//! Login sessions and their refresh tokens (one family per session, each token used once).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::Db;
use crate::error::AppResult;

/// How long a refresh token may wait before it is used.
pub const REFRESH_TTL: chrono::Duration = chrono::Duration::days(30);

/// Opens a session with its first refresh token; returns the session id.
#[tracing::instrument(skip(db, token_hash))]
pub async fn open(db: &Db, user_id: Uuid, token_hash: &[u8]) -> AppResult<Uuid> {
    let session_id = Uuid::now_v7();
    sqlx::query!(
        r#"WITH s AS (INSERT INTO sessions (id, user_id) VALUES ($1, $2) RETURNING id)
         INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
         SELECT $3, s.id, now() + make_interval(secs => $4) FROM s"#,
        session_id,
        user_id,
        token_hash,
        REFRESH_TTL.num_seconds() as f64,
    )
    .execute(db)
    .await?;
    Ok(session_id)
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Rotation {
    /// The token was live: it is now spent and `new` replaces it.
    Rotated { user_id: Uuid, session_id: Uuid },
    /// The token had been used before: the whole session is now revoked.
    Reused { user_id: Uuid, session_id: Uuid },
    /// Unknown, expired, revoked, or its user is disabled.
    Invalid,
}

/// Spends a refresh token and stores its successor, or revokes the family on reuse.
#[tracing::instrument(skip_all)]
pub async fn rotate(db: &Db, presented: &[u8], successor: &[u8]) -> AppResult<Rotation> {
    #[derive(sqlx::FromRow)]
    struct Row {
        session_id: Uuid,
        user_id: Uuid,
        used_at: Option<DateTime<Utc>>,
        expires_at: DateTime<Utc>,
        revoked_at: Option<DateTime<Utc>>,
        disabled: bool,
    }
    let mut conn = db.acquire().await?;
    let mut tx = conn.begin().await?;
    let row = sqlx::query_as!(
        Row,
        r#"SELECT rt.session_id, s.user_id, rt.used_at, rt.expires_at, s.revoked_at, u.disabled
         FROM refresh_tokens rt
         JOIN sessions s ON s.id = rt.session_id
         JOIN users u ON u.id = s.user_id
         WHERE rt.token_hash = $1
         FOR UPDATE OF rt, s"#,
        presented,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(Rotation::Invalid);
    };
    if row.revoked_at.is_some() || row.disabled || row.expires_at <= Utc::now() {
        return Ok(Rotation::Invalid);
    }
    if row.used_at.is_some() {
        sqlx::query!(
            r#"UPDATE sessions SET revoked_at = now() WHERE id = $1"#,
            row.session_id,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Rotation::Reused {
            user_id: row.user_id,
            session_id: row.session_id,
        });
    }
    sqlx::query!(
        r#"WITH spent AS (UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1),
              touched AS (UPDATE sessions SET last_used_at = now() WHERE id = $2)
         INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
         VALUES ($3, $2, now() + make_interval(secs => $4))"#,
        presented,
        row.session_id,
        successor,
        REFRESH_TTL.num_seconds() as f64,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Rotation::Rotated {
        user_id: row.user_id,
        session_id: row.session_id,
    })
}

/// Revokes one session of a user; returns whether it was live.
#[tracing::instrument(skip(db))]
pub async fn revoke(db: &Db, user_id: Uuid, session_id: Uuid) -> AppResult<bool> {
    let done = sqlx::query!(
        r#"UPDATE sessions SET revoked_at = now()
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL"#,
        session_id,
        user_id,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The session a refresh token belongs to, if it is the user's.
#[tracing::instrument(skip(db, token_hash))]
pub async fn of_refresh_token(
    db: &Db,
    user_id: Uuid,
    token_hash: &[u8],
) -> AppResult<Option<Uuid>> {
    let id = sqlx::query_scalar!(
        r#"SELECT s.id FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
         WHERE rt.token_hash = $1 AND s.user_id = $2"#,
        token_hash,
        user_id,
    )
    .fetch_optional(db)
    .await?;
    Ok(id)
}

/// Revokes every live session of a user but `keep`; returns the revoked ids.
#[tracing::instrument(skip(db))]
pub async fn revoke_all(db: &Db, user_id: Uuid, keep: Option<Uuid>) -> AppResult<Vec<Uuid>> {
    let ids = sqlx::query_scalar!(
        r#"UPDATE sessions SET revoked_at = now()
         WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR id <> $2)
         RETURNING id"#,
        user_id,
        keep,
    )
    .fetch_all(db)
    .await?;
    Ok(ids)
}

//! API tokens for CI: long-lived bearer secrets with scopes, stored as hashes.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::Db;
use crate::db::projects::ProjectRole;
use crate::db::users::UserRole;
use crate::error::AppResult;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiTokenRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[tracing::instrument(skip(db, token_hash))]
pub async fn insert(
    db: &Db,
    user_id: Uuid,
    name: &str,
    scopes: &[String],
    expires_at: Option<DateTime<Utc>>,
    token_hash: &[u8],
) -> AppResult<ApiTokenRow> {
    let row = sqlx::query_as!(
        ApiTokenRow,
        r#"INSERT INTO api_tokens (id, user_id, name, scopes, expires_at, token_hash)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, user_id, name, scopes, created_at, expires_at, last_used_at"#,
        Uuid::now_v7(),
        user_id,
        name,
        scopes,
        expires_at,
        token_hash,
    )
    .fetch_one(db)
    .await?;
    Ok(row)
}

/// How often a token's `last_used_at` is written: a request within this long of the last
/// recorded use writes nothing, so a CI job's calls are reads of the token and never wait on
/// each other for its row (nor commit a write each).
const USE_RECORDED_EVERY_SECONDS: f64 = 60.0;

/// The user behind a live token. One statement per request, which also records the use
/// when the last recorded one is older than `USE_RECORDED_EVERY_SECONDS`.
#[derive(Debug, sqlx::FromRow)]
pub struct TokenOwner {
    pub token_id: Uuid,
    pub user_id: Uuid,
    pub role: UserRole,
    pub scopes: Vec<String>,
    /// The owner's project roles, as in `users::Caller`.
    pub project_ids: Vec<Uuid>,
    pub project_roles: Vec<ProjectRole>,
    /// When the token stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

#[tracing::instrument(skip_all)]
pub async fn authenticate(db: &Db, token_hash: &[u8]) -> AppResult<Option<TokenOwner>> {
    let row = sqlx::query_as!(
        TokenOwner,
        r#"WITH owner AS (
             SELECT t.id AS token_id, u.id AS user_id, u.role, t.scopes, t.expires_at,
                    r.project_ids, r.project_roles
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             CROSS JOIN LATERAL (
                 SELECT coalesce(array_agg(project_id ORDER BY project_id), '{}') AS project_ids,
                        coalesce(array_agg(role ORDER BY project_id), '{}') AS project_roles
                 FROM (SELECT project_id, role FROM project_members WHERE user_id = u.id
                       ORDER BY project_id LIMIT 200) AS mine) AS r
             WHERE t.token_hash = $1
               AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
               AND NOT u.disabled),
         recorded AS (
             UPDATE api_tokens SET last_used_at = now()
             WHERE id = (SELECT token_id FROM owner)
               AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2)))
         SELECT token_id AS "token_id!", user_id AS "user_id!", role AS "role!: UserRole",
             scopes AS "scopes!", project_ids AS "project_ids!",
             project_roles AS "project_roles!: Vec<ProjectRole>", expires_at
         FROM owner"#,
        token_hash,
        USE_RECORDED_EVERY_SECONDS,
    )
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// The caller's tokens that are not revoked, newest first.
#[tracing::instrument(skip(db))]
pub async fn list(db: &Db, user_id: Uuid) -> AppResult<Vec<ApiTokenRow>> {
    let rows = sqlx::query_as!(
        ApiTokenRow,
        r#"SELECT id, user_id, name, scopes, created_at, expires_at, last_used_at FROM api_tokens
         WHERE user_id = $1 AND revoked_at IS NULL
         ORDER BY id DESC"#,
        user_id,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// Revokes one of the user's tokens; returns whether there was one to revoke.
#[tracing::instrument(skip(db))]
pub async fn revoke(db: &Db, user_id: Uuid, id: Uuid) -> AppResult<bool> {
    let done = sqlx::query!(
        r#"UPDATE api_tokens SET revoked_at = now()
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL"#,
        id,
        user_id,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

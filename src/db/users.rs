//! Users: accounts with a global role.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::db::Db;
use crate::db::projects::ProjectRole;
use crate::error::{AppError, AppResult, ResultExt};

/// A user's global role.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserRole {
    /// May do everything, including user administration.
    Admin,
    /// An ordinary user: sees only the projects they are a member of.
    Member,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: UserRole,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    /// `None`: ADMIN when this is the first user, MEMBER otherwise.
    pub role: Option<UserRole>,
}

/// Inserts a user. Serialized by an advisory lock so exactly one "first user" becomes ADMIN
/// even when two register at once.
#[tracing::instrument(skip_all)]
pub async fn insert(db: &Db, user: NewUser<'_>) -> AppResult<UserRow> {
    let mut conn = db.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query!(r#"SELECT pg_advisory_xact_lock(hashtext('maestro.users.insert'))"#,)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query_as!(
        UserRow,
        r#"INSERT INTO users (id, email, name, password_hash, role)
         VALUES ($1, $2, $3, $4,
                 COALESCE($5, CASE WHEN EXISTS (SELECT 1 FROM users) THEN 'MEMBER' ELSE 'ADMIN' END))
         RETURNING id, email, name, role AS "role: UserRole", disabled, created_at"#,
        Uuid::now_v7(),
        user.email,
        user.name,
        user.password_hash,
        user.role as _,
    )
    .fetch_one(&mut *tx)
    .await
    .on_constraint("users_email_key", || {
        AppError::Conflict("an account with this email already exists; sign in instead".into())
    })?;
    tx.commit().await?;
    Ok(row)
}

#[tracing::instrument(skip(db))]
pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> AppResult<Option<UserRow>> {
    let row = sqlx::query_as!(
        UserRow,
        r#"SELECT id, email, name, role AS "role: UserRole", disabled, created_at FROM users WHERE id = $1"#,
        id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// The user behind a live session: `None` when the session was revoked (logout, password
/// change, refresh-token reuse), does not belong to the user, or the account is disabled.
/// PostgreSQL is the record of revocation, and the only place it is kept.
#[tracing::instrument(skip(db))]
pub async fn find_by_live_session(
    db: impl PgExecutor<'_>,
    id: Uuid,
    session_id: Uuid,
) -> AppResult<Option<Caller>> {
    let row = sqlx::query_as!(
        Caller,
        r#"SELECT u.id, u.role AS "role: UserRole",
             r.project_ids AS "project_ids!", r.project_roles AS "project_roles!: Vec<ProjectRole>"
         FROM sessions s JOIN users u ON u.id = s.user_id
         CROSS JOIN LATERAL (
             SELECT coalesce(array_agg(project_id ORDER BY project_id), '{}') AS project_ids,
                    coalesce(array_agg(role ORDER BY project_id), '{}') AS project_roles
             FROM (SELECT project_id, role FROM project_members WHERE user_id = u.id
                   ORDER BY project_id LIMIT 200) AS mine) AS r
         WHERE s.id = $2 AND u.id = $1 AND s.revoked_at IS NULL AND NOT u.disabled"#,
        id,
        session_id,
    )
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// Who a live credential belongs to, with their project roles read in the same statement
/// (`project_ids[i]` has `project_roles[i]`; at most 200 of them, the rest are looked up
/// when a request needs them): the request's role checks then cost no statement.
pub struct Caller {
    pub id: Uuid,
    pub role: UserRole,
    pub project_ids: Vec<Uuid>,
    pub project_roles: Vec<ProjectRole>,
}

#[tracing::instrument(skip(db))]
pub async fn find_many(db: &Db, ids: &[Uuid]) -> AppResult<Vec<UserRow>> {
    let rows = sqlx::query_as!(
        UserRow,
        r#"SELECT id, email, name, role AS "role: UserRole", disabled, created_at FROM users WHERE id = ANY($1)"#,
        ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// The user with this (normalized) email and their password hash.
#[tracing::instrument(skip(db))]
pub async fn find_by_email_with_hash(
    db: impl PgExecutor<'_>,
    email: &str,
) -> AppResult<Option<(UserRow, String)>> {
    let row = sqlx::query!(
        r#"SELECT id, email, name, role AS "role: UserRole", disabled, created_at, password_hash
           FROM users WHERE lower(email) = lower($1)"#,
        email,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| {
        let user = UserRow {
            id: r.id,
            email: r.email,
            name: r.name,
            role: r.role,
            disabled: r.disabled,
            created_at: r.created_at,
        };
        (user, r.password_hash)
    }))
}

#[tracing::instrument(skip(db))]
pub async fn find_by_email(db: impl PgExecutor<'_>, email: &str) -> AppResult<Option<UserRow>> {
    let row = sqlx::query_as!(
        UserRow,
        r#"SELECT id, email, name, role AS "role: UserRole", disabled, created_at FROM users WHERE lower(email) = lower($1)"#,
        email,
    )
    .fetch_optional(db)
    .await?;
    Ok(row)
}

#[tracing::instrument(skip(db))]
pub async fn password_hash(db: impl PgExecutor<'_>, id: Uuid) -> AppResult<Option<String>> {
    let hash = sqlx::query_scalar!(r#"SELECT password_hash FROM users WHERE id = $1"#, id,)
        .fetch_optional(db)
        .await?;
    Ok(hash)
}

#[tracing::instrument(skip_all)]
pub async fn set_password_hash(db: impl PgExecutor<'_>, id: Uuid, hash: &str) -> AppResult<()> {
    sqlx::query!(
        r#"UPDATE users SET password_hash = $2 WHERE id = $1"#,
        id,
        hash,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Users in id order (ids are UUIDv7, so creation order), after a cursor.
#[tracing::instrument(skip(db))]
pub async fn page(
    db: &Db,
    search: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> AppResult<Vec<UserRow>> {
    let rows = sqlx::query_as!(
        UserRow,
        r#"SELECT id, email, name, role AS "role: UserRole", disabled, created_at FROM users
         WHERE id > coalesce($1::uuid, '00000000-0000-0000-0000-000000000000')
           AND ($2::text IS NULL OR email ILIKE '%' || $2 || '%' OR name ILIKE '%' || $2 || '%')
         ORDER BY id
         LIMIT $3"#,
        after,
        search.map(escape_like),
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn count(db: &Db, search: Option<&str>) -> AppResult<i64> {
    let n = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM users
         WHERE ($1::text IS NULL OR email ILIKE '%' || $1 || '%' OR name ILIKE '%' || $1 || '%')"#,
        search.map(escape_like),
    )
    .fetch_one(db)
    .await?;
    Ok(n)
}

#[tracing::instrument(skip(db))]
pub async fn set_disabled(db: &Db, id: Uuid, disabled: bool) -> AppResult<Option<UserRow>> {
    let row = sqlx::query_as!(
        UserRow,
        r#"UPDATE users SET disabled = $2 WHERE id = $1 RETURNING id, email, name, role AS "role: UserRole", disabled, created_at"#,
        id,
        disabled,
    )
    .fetch_optional(db)
    .await?;
    Ok(row)
}

#[tracing::instrument(skip(db))]
pub async fn set_role(db: &Db, id: Uuid, role: UserRole) -> AppResult<Option<UserRow>> {
    let row = sqlx::query_as!(
        UserRow,
        r#"UPDATE users SET role = $2 WHERE id = $1 RETURNING id, email, name, role AS "role: UserRole", disabled, created_at"#,
        id,
        role as _,
    )
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// Escapes `%`, `_` and `\` so user text matches literally inside a LIKE pattern.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

//! Projects and their members.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::Db;
use crate::db::users::escape_like;
use crate::error::{AppError, AppResult, ResultExt};

/// A member's role in a project; ordered VIEWER < EDITOR < OWNER.
#[derive(
    async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type,
)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectRole {
    /// Reads everything in the project.
    Viewer,
    /// Also writes experiments, runs, metrics, models, versions and artifacts.
    Editor,
    /// Also manages members, renames and deletes the project.
    Owner,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectRow {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub project_id: Uuid,
    pub user_id: Uuid,
    pub role: ProjectRole,
    pub added_at: DateTime<Utc>,
}

/// Creates a project with its creator as OWNER, in one transaction.
#[tracing::instrument(skip(db))]
pub async fn insert(
    db: &Db,
    name: &str,
    description: Option<&str>,
    created_by: Uuid,
) -> AppResult<ProjectRow> {
    let mut conn = db.acquire().await?;
    let mut tx = conn.begin().await?;
    let row = sqlx::query_as!(
        ProjectRow,
        r#"INSERT INTO projects (id, name, description, created_by) VALUES ($1, $2, $3, $4)
         RETURNING id, name, description, created_by, created_at, updated_at"#,
        Uuid::now_v7(),
        name,
        description,
        created_by,
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, 'OWNER')"#,
        row.id,
        created_by,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

#[tracing::instrument(skip(db))]
pub async fn update(
    db: &Db,
    id: Uuid,
    name: Option<&str>,
    description: Option<&str>,
) -> AppResult<Option<ProjectRow>> {
    let row = sqlx::query_as!(
        ProjectRow,
        r#"UPDATE projects SET name = COALESCE($2, name), description = COALESCE($3, description),
                updated_at = now()
         WHERE id = $1
         RETURNING id, name, description, created_by, created_at, updated_at"#,
        id,
        name,
        description,
    )
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// Deletes a project; experiments, runs, metrics, models and versions go with it (one
/// statement, so one transaction, through `ON DELETE CASCADE`).
#[tracing::instrument(skip(db))]
pub async fn delete(db: &Db, id: Uuid) -> AppResult<bool> {
    let done = sqlx::query!(r#"DELETE FROM projects WHERE id = $1"#, id,)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

#[tracing::instrument(skip(db))]
pub async fn find_many(db: &Db, ids: &[Uuid]) -> AppResult<Vec<ProjectRow>> {
    let rows = sqlx::query_as!(
        ProjectRow,
        r#"SELECT id, name, description, created_by, created_at, updated_at
         FROM projects WHERE id = ANY($1)"#,
        ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// The user's role in each of the projects they are a member of.
#[tracing::instrument(skip(db))]
pub async fn roles(
    db: &Db,
    user_id: Uuid,
    project_ids: &[Uuid],
) -> AppResult<Vec<(Uuid, ProjectRole)>> {
    let rows = sqlx::query!(
        r#"SELECT project_id, role AS "role: ProjectRole" FROM project_members
           WHERE user_id = $1 AND project_id = ANY($2)"#,
        user_id,
        project_ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.project_id, r.role)).collect())
}

/// Projects the user may see (all of them for an admin, `viewer = None`), in id order.
#[tracing::instrument(skip(db))]
pub async fn page_visible(
    db: &Db,
    viewer: Option<Uuid>,
    search: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> AppResult<Vec<ProjectRow>> {
    let rows = sqlx::query_as!(
        ProjectRow,
        r#"SELECT p.id, p.name, p.description, p.created_by, p.created_at, p.updated_at
         FROM projects p
         WHERE ($1::uuid IS NULL
                OR EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = p.id AND m.user_id = $1))
           AND ($2::text IS NULL OR p.name ILIKE '%' || $2 || '%' OR p.description ILIKE '%' || $2 || '%')
           AND p.id > coalesce($3::uuid, '00000000-0000-0000-0000-000000000000')
         ORDER BY p.id
         LIMIT $4"#,
        viewer,
        search.map(escape_like),
        after,
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn count_visible(db: &Db, viewer: Option<Uuid>, search: Option<&str>) -> AppResult<i64> {
    let n = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM projects p
         WHERE ($1::uuid IS NULL
                OR EXISTS (SELECT 1 FROM project_members m WHERE m.project_id = p.id AND m.user_id = $1))
           AND ($2::text IS NULL OR p.name ILIKE '%' || $2 || '%' OR p.description ILIKE '%' || $2 || '%')"#,
        viewer,
        search.map(escape_like),
    )
    .fetch_one(db)
    .await?;
    Ok(n)
}

#[tracing::instrument(skip(db))]
pub async fn members_of(db: &Db, project_ids: &[Uuid]) -> AppResult<Vec<MemberRow>> {
    let rows = sqlx::query_as!(
        MemberRow,
        r#"SELECT project_id, user_id, role AS "role: ProjectRole", added_at FROM project_members
         WHERE project_id = ANY($1) ORDER BY project_id, added_at, user_id"#,
        project_ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn add_member(
    db: &Db,
    project_id: Uuid,
    user_id: Uuid,
    role: ProjectRole,
) -> AppResult<MemberRow> {
    let row = sqlx::query_as!(
        MemberRow,
        r#"INSERT INTO project_members (project_id, user_id, role) VALUES ($1, $2, $3)
         RETURNING project_id, user_id, role AS "role: ProjectRole", added_at"#,
        project_id,
        user_id,
        role as _,
    )
    .fetch_one(db)
    .await
    .on_constraint("project_members_pkey", || {
        AppError::Conflict(
            "this user is already a member: use updateProjectMember to change the role".into(),
        )
    })?;
    Ok(row)
}

/// What changing or removing a membership may run into.
pub enum MembershipChange {
    Changed(Option<MemberRow>),
    NotAMember,
    LastOwner,
}

/// Sets a member's role (`None` removes them), refusing to leave the project without an
/// owner. The project row is locked so two owners cannot demote each other at once.
#[tracing::instrument(skip(db))]
pub async fn change_member(
    db: &Db,
    project_id: Uuid,
    user_id: Uuid,
    role: Option<ProjectRole>,
) -> AppResult<MembershipChange> {
    let mut conn = db.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query!(
        r#"SELECT 1 AS "locked" FROM projects WHERE id = $1 FOR UPDATE"#,
        project_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let current: Option<ProjectRole> = sqlx::query_scalar!(
        r#"SELECT role AS "role: ProjectRole" FROM project_members WHERE project_id = $1 AND user_id = $2"#,
        project_id,
        user_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(current) = current else {
        return Ok(MembershipChange::NotAMember);
    };
    if current == ProjectRole::Owner && role != Some(ProjectRole::Owner) {
        let owners: i64 = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM project_members WHERE project_id = $1 AND role = 'OWNER'"#,
            project_id,
        )
        .fetch_one(&mut *tx)
        .await?;
        if owners <= 1 {
            return Ok(MembershipChange::LastOwner);
        }
    }
    let row = match role {
        Some(role) => Some(
            sqlx::query_as!(
                MemberRow,
                r#"UPDATE project_members SET role = $3 WHERE project_id = $1 AND user_id = $2
                 RETURNING project_id, user_id, role AS "role: ProjectRole", added_at"#,
                project_id,
                user_id,
                role as _,
            )
            .fetch_one(&mut *tx)
            .await?,
        ),
        None => {
            sqlx::query!(
                r#"DELETE FROM project_members WHERE project_id = $1 AND user_id = $2"#,
                project_id,
                user_id,
            )
            .execute(&mut *tx)
            .await?;
            None
        }
    };
    tx.commit().await?;
    Ok(MembershipChange::Changed(row))
}

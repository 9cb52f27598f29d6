//! The audit log: security-relevant events, appended and read back by ADMINs.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::Db;
use crate::db::enum_name;
use crate::error::AppResult;

/// What happened. Stored as text; new kinds are appended, never renamed.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditKind {
    /// An account was created.
    Registered,
    /// A successful sign-in with email and password.
    SignIn,
    /// A sign-in refused: wrong email or password, or a disabled account.
    SignInFailed,
    /// A password was changed.
    PasswordChanged,
    /// An ADMIN changed an account's role.
    UserRoleChanged,
    /// An ADMIN disabled an account (its sessions ended).
    UserDisabled,
    /// An ADMIN enabled an account again.
    UserEnabled,
    /// Someone was added to a project.
    MemberAdded,
    /// A project member's role changed.
    MemberRoleChanged,
    /// Someone was removed from a project.
    MemberRemoved,
    /// An API token was created.
    ApiTokenCreated,
    /// An API token was revoked.
    ApiTokenRevoked,
    /// A model version's stage changed.
    StageChanged,
    /// A model alias was set or moved.
    AliasSet,
    /// A model alias was deleted.
    AliasDeleted,
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub kind: AuditKind,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<&'a str>,
    pub subject_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub summary: String,
    pub address: Option<String>,
}

impl<'a> NewEvent<'a> {
    pub fn new(kind: AuditKind, summary: impl Into<String>) -> Self {
        NewEvent {
            kind,
            actor_id: None,
            actor_email: None,
            subject_id: None,
            project_id: None,
            summary: summary.into(),
            address: None,
        }
    }

    /// Who acted.
    pub fn by(mut self, actor_id: Uuid) -> Self {
        self.actor_id = Some(actor_id);
        self
    }

    /// The email given (sign-ins and registrations, where it says who tried).
    pub fn email(mut self, email: &'a str) -> Self {
        self.actor_email = Some(email);
        self
    }

    /// The account acted upon.
    pub fn on(mut self, subject_id: Uuid) -> Self {
        self.subject_id = Some(subject_id);
        self
    }

    /// The project it happened in.
    pub fn in_project(mut self, project_id: Uuid) -> Self {
        self.project_id = Some(project_id);
        self
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub kind: AuditKind,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub subject_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub summary: String,
    pub address: Option<String>,
}

#[tracing::instrument(skip(db))]
pub async fn insert(db: &Db, event: &NewEvent<'_>) -> AppResult<()> {
    sqlx::query!(
        r#"INSERT INTO audit_events (id, kind, actor_id, actor_email, subject_id, project_id, summary, address)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        Uuid::now_v7(),
        event.kind as AuditKind,
        event.actor_id,
        event.actor_email,
        event.subject_id,
        event.project_id,
        event.summary,
        event.address,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Newest first, after the cursor `before` (an event id); `user` matches the actor or the
/// account acted upon; `kinds` empty means every kind.
#[tracing::instrument(skip(db))]
pub async fn page(
    db: &Db,
    user: Option<Uuid>,
    kinds: &[AuditKind],
    before: Option<Uuid>,
    limit: i64,
) -> AppResult<Vec<EventRow>> {
    let kinds = stored(kinds);
    let rows = sqlx::query_as!(
        EventRow,
        r#"SELECT id, at, kind AS "kind: AuditKind", actor_id, actor_email, subject_id, project_id,
                summary, address
         FROM audit_events
         WHERE ($1::uuid IS NULL OR actor_id = $1 OR subject_id = $1)
           AND (cardinality($2::text[]) = 0 OR kind = ANY($2))
           AND id < coalesce($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')
         ORDER BY id DESC
         LIMIT $4"#,
        user,
        &kinds,
        before,
        limit,
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

#[tracing::instrument(skip(db))]
pub async fn count(db: &Db, user: Option<Uuid>, kinds: &[AuditKind]) -> AppResult<i64> {
    let kinds = stored(kinds);
    let n = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM audit_events
         WHERE ($1::uuid IS NULL OR actor_id = $1 OR subject_id = $1)
           AND (cardinality($2::text[]) = 0 OR kind = ANY($2))"#,
        user,
        &kinds,
    )
    .fetch_one(db)
    .await?;
    Ok(n)
}

/// The kinds as stored, for `kind = ANY(…)`.
fn stored(kinds: &[AuditKind]) -> Vec<String> {
    kinds.iter().map(|k| enum_name(*k).to_owned()).collect()
}

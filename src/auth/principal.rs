//! Who is calling: decided once at the HTTP edge and handed to resolvers as request data.

use uuid::Uuid;

use crate::db::projects::ProjectRole;
use crate::db::users::UserRole;
use crate::error::{AppError, AppResult};

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Credential {
    /// An access token minted at login for a session.
    Session { session_id: Uuid, jti: Uuid },
    /// An API token, with the scopes it was created with.
    ApiToken { token_id: Uuid, can_write: bool },
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub role: UserRole,
    pub credential: Credential,
    /// Project roles read with the credential (up to 200): the request's loaders start
    /// with them, so role checks on these projects cost no statement. A project missing
    /// here is looked up as before.
    pub project_roles: Vec<(Uuid, ProjectRole)>,
}

/// How many memberships the credential's statement reads (`LIMIT 200` in
/// `db::users::find_by_live_session` and `db::api_tokens::authenticate`).
pub const ROLES_READ_WITH_CREDENTIAL: usize = 200;

/// Where a caller may write; see [`Principal::writable_projects`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writable {
    Everywhere,
    Only(Vec<Uuid>),
    Unknown,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == UserRole::Admin
    }

    pub fn can_write(&self) -> bool {
        match self.credential {
            Credential::Session { .. } => true,
            Credential::ApiToken { can_write, .. } => can_write,
        }
    }

    pub fn require_admin(&self) -> AppResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "only an administrator may do this".into(),
            ))
        }
    }

    /// Where the caller may write, as far as the credential's own statement tells: every
    /// project for an ADMIN; the projects where the caller is EDITOR or OWNER when all of
    /// their memberships were read with the credential; unknown when there may be more
    /// (the role loader decides then).
    pub fn writable_projects(&self) -> Writable {
        if self.is_admin() {
            Writable::Everywhere
        } else if self.project_roles.len() >= ROLES_READ_WITH_CREDENTIAL {
            Writable::Unknown
        } else {
            Writable::Only(
                self.project_roles
                    .iter()
                    .filter(|(_, role)| *role >= ProjectRole::Editor)
                    .map(|(id, _)| *id)
                    .collect(),
            )
        }
    }

    /// The session behind the caller's access token, for session-management mutations.
    pub fn session(&self) -> AppResult<(Uuid, Uuid)> {
        match &self.credential {
            Credential::Session { session_id, jti } => Ok((*session_id, *jti)),
            Credential::ApiToken { .. } => Err(AppError::Forbidden(
                "this needs a signed-in session, not an API token".into(),
            )),
        }
    }
}

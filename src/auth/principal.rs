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

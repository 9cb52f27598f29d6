//! Authentication: who the caller is, decided once at the HTTP edge.

pub mod credentials;
pub mod hasher;
pub mod jwt;
pub mod login_limits;
pub mod password;
pub mod principal;
pub mod secrets;

use uuid::Uuid;

use crate::db;
use crate::db::projects::ProjectRole;
use crate::error::AppError;
use crate::state::AppState;
use credentials::Key;
use principal::{Credential, Principal};

/// Why a presented bearer token did not yield a principal.
#[derive(Debug)]
pub enum AuthFailure {
    /// Malformed, tampered, expired, revoked or unknown: HTTP 401 `invalid_token`.
    InvalidToken(String),
    /// A dependency needed to check it is down.
    Unavailable(AppError),
}

impl From<AppError> for AuthFailure {
    fn from(err: AppError) -> Self {
        AuthFailure::Unavailable(err)
    }
}

/// Resolves the value of an `Authorization: Bearer` header to a principal. The credential
/// read is run once more when its database connection broke under it (as after a
/// PostgreSQL restart): it only reads, and stamps a token's last use.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, AuthFailure> {
    match authenticate_once(state, token).await {
        Err(AuthFailure::Unavailable(err)) if err.is_lost_connection() => {
            tracing::warn!("the credential read lost its database connection: reading once more");
            authenticate_once(state, token).await
        }
        answer => answer,
    }
}

async fn authenticate_once(state: &AppState, token: &str) -> Result<Principal, AuthFailure> {
    if token.starts_with(secrets::API_TOKEN_PREFIX) {
        let digest = secrets::digest(token);
        let key = Key::ApiToken(digest);
        if let Some(principal) = state.credentials.get(&key) {
            return Ok(principal);
        }
        let ticket = state.credentials.ticket();
        let owner = db::api_tokens::authenticate(&state.db, &digest)
            .await?
            .ok_or_else(|| {
                AuthFailure::InvalidToken("unknown, expired or revoked API token".into())
            })?;
        let principal = Principal {
            user_id: owner.user_id,
            role: owner.role,
            credential: Credential::ApiToken {
                token_id: owner.token_id,
                can_write: owner.scopes.iter().any(|s| s == "WRITE"),
            },
            project_roles: paired(owner.project_ids, owner.project_roles),
        };
        state
            .credentials
            .keep(ticket, key, &principal, owner.expires_at);
        return Ok(principal);
    }
    let claims = state
        .jwt
        .verify(token)
        .map_err(|e| AuthFailure::InvalidToken(e.to_string()))?;
    let key = Key::Session(claims.sid);
    if let Some(mut principal) = state.credentials.get(&key)
        && principal.user_id == claims.sub
    {
        principal.credential = Credential::Session {
            session_id: claims.sid,
            jti: claims.jti,
        };
        return Ok(principal);
    }
    // Revocation lives in PostgreSQL alone: the session row is read with the user and their
    // project roles, in one statement, and kept only while this process hears of every
    // change to them (`credentials`).
    let ticket = state.credentials.ticket();
    let user = db::users::find_by_live_session(&state.db, claims.sub, claims.sid)
        .await?
        .ok_or_else(|| {
            AuthFailure::InvalidToken("session ended, or account missing or disabled".into())
        })?;
    let principal = Principal {
        user_id: user.id,
        role: user.role,
        credential: Credential::Session {
            session_id: claims.sid,
            jti: claims.jti,
        },
        project_roles: paired(user.project_ids, user.project_roles),
    };
    state.credentials.keep(ticket, key, &principal, None);
    Ok(principal)
}

/// The caller's project roles as read with the credential: two arrays, index by index.
fn paired(ids: Vec<Uuid>, roles: Vec<ProjectRole>) -> Vec<(Uuid, ProjectRole)> {
    ids.into_iter().zip(roles).collect()
}

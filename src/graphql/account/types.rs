//! GraphQL types of accounts, sessions and API tokens.

use async_graphql::{Enum, ID, InputObject, Object, SimpleObject, Value};
use chrono::{DateTime, Utc};

use crate::auth::principal::Principal;
use crate::db::api_tokens::ApiTokenRow;
use crate::db::users::{UserRole, UserRow};
use crate::error::{AppError, AppResult};
use crate::graphql::access::Readable;
use crate::graphql::direct::{Leaves, leaf};

/// Private to this module: built only by the constructors below, each named after the
/// rule that lets the caller see the account.
pub struct User(UserRow);

impl User {
    /// The caller's own account.
    pub fn of_caller(row: UserRow, caller: &Principal) -> AppResult<Self> {
        if row.id != caller.user_id {
            return Err(AppError::from(anyhow::anyhow!(
                "another user's account was about to be shown as the caller's"
            )));
        }
        Ok(User(row))
    }

    /// Any account, for an ADMIN.
    pub fn for_admin(row: UserRow, caller: &Principal) -> AppResult<Self> {
        caller.require_admin()?;
        Ok(User(row))
    }

    /// The account whose credentials were just checked (sign-in, registration, refresh).
    pub fn signed_in(row: UserRow) -> Self {
        User(row)
    }

    /// The author, member or changer of something in a project the caller may read.
    pub fn related(row: UserRow, _seen: Readable) -> Self {
        User(row)
    }

    pub fn row(&self) -> &UserRow {
        &self.0
    }
}

impl Leaves for User {
    fn leaf(&self, field: &str) -> Option<Value> {
        match field {
            "id" => leaf(ID(self.0.id.to_string())),
            "email" => leaf(self.0.email.as_str()),
            "name" => leaf(self.0.name.as_str()),
            "role" => leaf(self.0.role),
            "disabled" => leaf(self.0.disabled),
            "createdAt" => leaf(self.0.created_at),
            _ => None,
        }
    }
}

/// A person (or robot) with an account. Everyone sees their own account; ADMINs see all.
#[Object]
impl User {
    /// The user's id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Normalized (lower-case) email, unique across users.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Global role: ADMIN may do everything.
    async fn role(&self) -> UserRole {
        self.0.role
    }
    /// Disabled accounts cannot sign in and their tokens stop working.
    async fn disabled(&self) -> bool {
        self.0.disabled
    }
    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Tokens returned by `register`, `login` and `refreshToken`.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// JWT for `Authorization: Bearer`, valid for `expiresIn` seconds.
    pub access_token: String,
    /// Opaque secret for `refreshToken`; each one works once.
    pub refresh_token: String,
    /// Lifetime of the access token, in seconds.
    pub expires_in: i64,
    /// The signed-in user.
    pub user: User,
}

/// What an API token may do.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiTokenScope {
    /// Queries only.
    Read,
    /// Queries and mutations.
    Write,
}

impl ApiTokenScope {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "READ" => Some(ApiTokenScope::Read),
            "WRITE" => Some(ApiTokenScope::Write),
            _ => None,
        }
    }
}

/// Private to this module: built only for the token's owner.
pub struct ApiToken(ApiTokenRow);

impl ApiToken {
    /// One of the caller's own tokens.
    pub fn of_caller(row: ApiTokenRow, caller: &Principal) -> AppResult<Self> {
        if row.user_id != caller.user_id {
            return Err(AppError::from(anyhow::anyhow!(
                "another user's API token was about to be shown"
            )));
        }
        Ok(ApiToken(row))
    }
}

/// A token for CI and scripts. Its secret is shown once, at creation; what is listed here
/// is everything else about it.
#[Object]
impl ApiToken {
    /// The token's id, for `revokeApiToken`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// What the token is for, as given at creation.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What the token may do: READ (queries) and/or WRITE (mutations).
    async fn scopes(&self) -> Vec<ApiTokenScope> {
        self.0
            .scopes
            .iter()
            .filter_map(|s| ApiTokenScope::parse(s))
            .collect()
    }
    /// When the token was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the token stops working; null: never.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// When the token last authenticated a request, to about a minute: a use within a
    /// minute of the last recorded one is not recorded again, nor one answered from the
    /// principal a server keeps for up to ten seconds after reading the token.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
}

/// A new API token and its secret, which is never shown again.
#[derive(SimpleObject)]
pub struct CreatedApiToken {
    /// The secret, prefixed `mst_`: send it as `Authorization: Bearer`.
    pub token: String,
    /// The token's details, as `apiTokens` lists them.
    pub api_token: ApiToken,
}

/// A new account.
#[derive(InputObject)]
pub struct RegisterInput {
    /// A valid email address, at most 254 characters; stored lower-case and unique.
    pub email: String,
    /// At least 10 characters, at most 1024 bytes.
    pub password: String,
    /// Display name, 1 to 200 characters.
    pub name: String,
}

/// Credentials for `login`.
#[derive(InputObject)]
pub struct LoginInput {
    /// The account's email (any case).
    pub email: String,
    /// The account's password.
    pub password: String,
}

/// A password change: the current password proves it is you.
#[derive(InputObject)]
pub struct ChangePasswordInput {
    /// The password in use now.
    pub current_password: String,
    /// At least 10 characters, at most 1024 bytes.
    pub new_password: String,
}

/// A new API token.
#[derive(InputObject)]
pub struct CreateApiTokenInput {
    /// What the token is for, e.g. "nightly training CI".
    pub name: String,
    /// What it may do: at least one of READ and WRITE.
    pub scopes: Vec<ApiTokenScope>,
    /// When the token stops working; omit for a token that does not expire.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Filter of the user list.
#[derive(InputObject, Default)]
pub struct UserFilter {
    /// Case-insensitive substring of the email or name.
    pub search: Option<String>,
}

/// Changes an administrator may make to an account.
#[derive(InputObject)]
pub struct UpdateUserInput {
    /// The new global role; omit to keep it.
    pub role: Option<UserRole>,
    /// Disabling also ends all of the user's sessions at once.
    pub disabled: Option<bool>,
}

//! Registration, sign-in, sessions, password changes, API tokens and user administration.

use async_graphql::{Context, ID, Object};
use secrecy::SecretString;
use uuid::Uuid;

use crate::auth::{jwt, login_limits, password, secrets};
use crate::db::audit::{AuditKind, NewEvent};
use crate::db::users::{NewUser, UserRow};
use crate::db::{self, sessions::Rotation};
use crate::error::{AppError, AppResult};
use crate::graphql::account::types::{
    ApiToken, AuthPayload, ChangePasswordInput, CreateApiTokenInput, CreatedApiToken, LoginInput,
    RegisterInput, UpdateUserInput, User,
};
use crate::graphql::admin::record;
use crate::graphql::context::{client_addr, principal, state};
use crate::graphql::ids;
use crate::state::AppState;
use crate::validate;

#[derive(Default)]
pub struct AccountMutation;

const WRONG_CREDENTIALS: &str = "wrong email or password";

/// Opens a session for a user and mints its first token pair.
async fn sign_in(state: &AppState, user: UserRow) -> AppResult<AuthPayload> {
    let refresh = secrets::generate(secrets::REFRESH_PREFIX);
    let session_id = db::sessions::open(&state.db, user.id, &secrets::digest(&refresh)).await?;
    payload(state, user, session_id, refresh)
}

fn payload(
    state: &AppState,
    user: UserRow,
    session_id: Uuid,
    refresh: String,
) -> AppResult<AuthPayload> {
    let (access, _) = state.jwt.issue(user.id, session_id)?;
    Ok(AuthPayload {
        access_token: access,
        refresh_token: refresh,
        expires_in: jwt::ACCESS_TTL_SECS,
        user: User::signed_in(user),
    })
}

#[Object]
impl AccountMutation {
    /// Creates an account and signs it in. The first account becomes ADMIN.
    async fn register(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new account.")] input: RegisterInput,
    ) -> AppResult<AuthPayload> {
        let state = state(ctx);
        let email = validate::email("email", &input.email)?;
        let name = validate::name("name", &input.name)?;
        let pw = SecretString::from(input.password);
        password::validate_new_password("password", &pw)?;
        if !state.config.registration_open && db::users::count(&state.db, None).await? > 0 {
            return Err(AppError::Forbidden(
                "registration is closed: ask an administrator for an account".into(),
            ));
        }
        login_limits::check_registration(&state.cache, &state.config, client_addr(ctx)).await?;
        let hash = password::hash(pw).await?;
        let user = db::users::insert(
            &state.db,
            NewUser {
                email: &email,
                name: &name,
                password_hash: &hash,
                role: None,
            },
        )
        .await?;
        tracing::info!(user_id = %user.id, role = ?user.role, "registered");
        let event = NewEvent::new(
            AuditKind::Registered,
            format!("registered as {}", db::enum_name(user.role)),
        )
        .by(user.id)
        .email(&email);
        record(ctx, event).await;
        sign_in(state, user).await
    }

    /// Signs in with email and password. Failures are limited per account and per address.
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Email and password.")] input: LoginInput,
    ) -> AppResult<AuthPayload> {
        let state = state(ctx);
        let addr = client_addr(ctx);
        // An email that cannot exist is treated like an unknown one: same answer, same time.
        let email = validate::email("email", &input.email)
            .unwrap_or_else(|_| input.email.trim().to_lowercase());
        login_limits::check(&state.cache, &state.config, &email, addr).await?;
        let found = db::users::find_by_email_with_hash(&state.db, &email).await?;
        let account = found.as_ref().map(|(user, _)| (user.id, user.disabled));
        let (user, stored) = match found {
            Some((user, hash)) if !user.disabled => (Some(user), Some(hash)),
            _ => (None, None),
        };
        let ok = password::verify(SecretString::from(input.password), stored).await?;
        match user {
            Some(user) if ok => {
                let event = NewEvent::new(AuditKind::SignIn, "signed in with a password")
                    .by(user.id)
                    .email(&email);
                record(ctx, event).await;
                sign_in(state, user).await
            }
            _ => {
                let mut event = NewEvent::new(
                    AuditKind::SignInFailed,
                    match account {
                        None => "no account has this email",
                        Some((_, true)) => "the account is disabled",
                        Some((_, false)) => "wrong password",
                    },
                )
                .email(&email);
                if let Some((id, _)) = account {
                    event = event.on(id);
                }
                record(ctx, event).await;
                state.metrics.login_failure();
                login_limits::record_failure(&state.cache, &state.config, &email, addr).await;
                Err(AppError::Unauthenticated(WRONG_CREDENTIALS.into()))
            }
        }
    }

    /// Trades a refresh token for a new token pair. Each refresh token works once:
    /// presenting a spent one revokes its whole session.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `refreshToken` of the last token pair.")] refresh_token: String,
    ) -> AppResult<AuthPayload> {
        let state = state(ctx);
        let invalid =
            || AppError::Unauthenticated("invalid or expired refresh token: sign in again".into());
        if !refresh_token.starts_with(secrets::REFRESH_PREFIX) {
            return Err(invalid());
        }
        let successor = secrets::generate(secrets::REFRESH_PREFIX);
        let rotation = db::sessions::rotate(
            &state.db,
            &secrets::digest(&refresh_token),
            &secrets::digest(&successor),
        )
        .await?;
        match rotation {
            Rotation::Rotated {
                user_id,
                session_id,
            } => {
                let user = db::users::find(&state.db, user_id)
                    .await?
                    .ok_or_else(invalid)?;
                payload(state, user, session_id, successor)
            }
            Rotation::Reused {
                user_id,
                session_id,
            } => {
                state.credentials.forget_user(user_id);
                tracing::warn!(%session_id, "refresh token reuse: session revoked");
                Err(AppError::Unauthenticated(
                    "this refresh token was already used, so its session has been ended for safety: sign in again".into(),
                ))
            }
            Rotation::Invalid => Err(invalid()),
        }
    }

    /// Ends the current session, the one a given refresh token belongs to, or (with
    /// `allSessions`) every session of the caller. Access tokens stop working at once.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "End the session of this refresh token instead of the current one.")]
        refresh_token: Option<String>,
        #[graphql(desc = "End every session of the caller, on every device.")] all_sessions: Option<
            bool,
        >,
    ) -> AppResult<bool> {
        let state = state(ctx);
        let p = principal(ctx)?;
        let (current, _) = p.session()?;
        if all_sessions.unwrap_or(false) {
            db::sessions::revoke_all(&state.db, p.user_id, None).await?;
        } else {
            let target = match refresh_token {
                Some(token) => {
                    db::sessions::of_refresh_token(&state.db, p.user_id, &secrets::digest(&token))
                        .await?
                        .ok_or_else(|| {
                            AppError::validation("refreshToken", "not a refresh token of yours")
                        })?
                }
                None => current,
            };
            db::sessions::revoke(&state.db, p.user_id, target).await?;
        }
        state.credentials.forget_user(p.user_id);
        Ok(true)
    }

    /// Changes the caller's password and ends their other sessions.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The current and the new password.")] input: ChangePasswordInput,
    ) -> AppResult<bool> {
        let state = state(ctx);
        let p = principal(ctx)?;
        let (current, _) = p.session()?;
        let user = db::users::find(&state.db, p.user_id)
            .await?
            .ok_or_else(|| AppError::not_found("user"))?;
        let new_pw = SecretString::from(input.new_password);
        password::validate_new_password("newPassword", &new_pw)?;
        let addr = client_addr(ctx);
        login_limits::check(&state.cache, &state.config, &user.email, addr).await?;
        let stored = db::users::password_hash(&state.db, p.user_id).await?;
        if !password::verify(SecretString::from(input.current_password), stored).await? {
            state.metrics.login_failure();
            login_limits::record_failure(&state.cache, &state.config, &user.email, addr).await;
            return Err(AppError::validation(
                "currentPassword",
                "the current password is wrong",
            ));
        }
        let hash = password::hash(new_pw).await?;
        db::users::set_password_hash(&state.db, p.user_id, &hash).await?;
        db::sessions::revoke_all(&state.db, p.user_id, Some(current)).await?;
        state.credentials.forget_user(p.user_id);
        let event = NewEvent::new(
            AuditKind::PasswordChanged,
            "password changed; other sessions ended",
        )
        .by(p.user_id);
        record(ctx, event).await;
        Ok(true)
    }

    /// Creates an API token for CI. The secret is in the answer and nowhere else, ever.
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new token.")] input: CreateApiTokenInput,
    ) -> AppResult<CreatedApiToken> {
        let state = state(ctx);
        let p = principal(ctx)?;
        // A token minting tokens would outlive its own revocation.
        p.session()?;
        let name = validate::name("name", &input.name)?;
        if input.scopes.is_empty() {
            return Err(AppError::validation(
                "scopes",
                "give at least one scope: READ or WRITE",
            ));
        }
        if input.expires_at.is_some_and(|t| t <= chrono::Utc::now()) {
            return Err(AppError::validation("expiresAt", "must be in the future"));
        }
        let mut scopes: Vec<String> = input
            .scopes
            .iter()
            .map(|s| db::enum_name(*s).to_string())
            .collect();
        scopes.sort();
        scopes.dedup();
        let token = secrets::generate(secrets::API_TOKEN_PREFIX);
        let row = db::api_tokens::insert(
            &state.db,
            p.user_id,
            &name,
            &scopes,
            input.expires_at,
            &secrets::digest(&token),
        )
        .await?;
        let summary = format!(
            "API token \"{}\" ({}), {}",
            row.name,
            scopes.join(", "),
            match input.expires_at {
                Some(t) => format!("expires {}", t.format("%Y-%m-%d %H:%M UTC")),
                None => "never expires".into(),
            }
        );
        record(
            ctx,
            NewEvent::new(AuditKind::ApiTokenCreated, summary).by(p.user_id),
        )
        .await;
        Ok(CreatedApiToken {
            token,
            api_token: ApiToken::of_caller(row, p)?,
        })
    }

    /// Revokes one of your API tokens; it stops working at once.
    async fn revoke_api_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token's id.")] id: ID,
    ) -> AppResult<bool> {
        let p = principal(ctx)?;
        let id = ids::parse("id", &id)?;
        if db::api_tokens::revoke(&state(ctx).db, p.user_id, id).await? {
            state(ctx).credentials.forget_user(p.user_id);
            let event =
                NewEvent::new(AuditKind::ApiTokenRevoked, format!("API token {id}")).by(p.user_id);
            record(ctx, event).await;
            Ok(true)
        } else {
            Err(AppError::not_found("API token"))
        }
    }

    /// Changes a user's role or disables the account (ADMIN only). Disabling ends the
    /// user's sessions at once; administrators cannot demote or disable themselves.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: ID,
        #[graphql(desc = "What to change.")] input: UpdateUserInput,
    ) -> AppResult<User> {
        let state = state(ctx);
        let p = principal(ctx)?;
        p.require_admin()?;
        let id = ids::parse("id", &id)?;
        if id == p.user_id
            && (input.disabled == Some(true) || input.role == Some(db::users::UserRole::Member))
        {
            return Err(AppError::validation(
                "id",
                "you cannot demote or disable yourself; ask another administrator",
            ));
        }
        let mut user = db::users::find(&state.db, id)
            .await?
            .ok_or_else(|| AppError::not_found("user"))?;
        if let Some(role) = input.role.filter(|r| *r != user.role) {
            let before = user.role;
            user = db::users::set_role(&state.db, id, role)
                .await?
                .ok_or_else(|| AppError::not_found("user"))?;
            state.credentials.forget_user(id);
            let summary = format!(
                "{}: role {} → {}",
                user.email,
                db::enum_name(before),
                db::enum_name(role)
            );
            let event = NewEvent::new(AuditKind::UserRoleChanged, summary)
                .by(p.user_id)
                .on(id);
            record(ctx, event).await;
        }
        if let Some(disabled) = input.disabled.filter(|d| *d != user.disabled) {
            user = db::users::set_disabled(&state.db, id, disabled)
                .await?
                .ok_or_else(|| AppError::not_found("user"))?;
            let (kind, summary) = if disabled {
                db::sessions::revoke_all(&state.db, id, None).await?;
                state.credentials.forget_user(id);
                let summary = format!("{} disabled; sessions ended", user.email);
                (AuditKind::UserDisabled, summary)
            } else {
                (AuditKind::UserEnabled, format!("{} enabled", user.email))
            };
            record(ctx, NewEvent::new(kind, summary).by(p.user_id).on(id)).await;
        }
        User::for_admin(user, p)
    }
}

//! Reads of accounts and tokens.

use async_graphql::{Context, ID, Object};

use crate::db;
use crate::error::AppResult;
use crate::graphql::account::types::{ApiToken, User, UserFilter};
use crate::graphql::connection::{
    CursorKey, Page, TotalCount, build_page, decode_id_cursor, page_size, wants_total,
};
use crate::graphql::context::{principal, state};
use crate::graphql::ids;

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// Whether `register` would accept a new account now (public: sign-in pages ask it to
    /// show a registration link). The first account may always register.
    async fn registration_open(&self, ctx: &Context<'_>) -> AppResult<bool> {
        let state = state(ctx);
        Ok(state.config.registration_open || db::users::count(&state.db, None).await? == 0)
    }

    /// The signed-in caller.
    async fn me(&self, ctx: &Context<'_>) -> AppResult<User> {
        let p = principal(ctx)?;
        db::users::find(&state(ctx).db, p.user_id)
            .await?
            .ok_or_else(|| crate::error::AppError::not_found("user"))
            .and_then(|row| User::of_caller(row, p))
    }

    /// A user: yourself, or anyone for an ADMIN; null otherwise.
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id.")] id: ID,
    ) -> AppResult<Option<User>> {
        let p = principal(ctx)?;
        let id = ids::parse("id", &id)?;
        if id != p.user_id && !p.is_admin() {
            return Ok(None);
        }
        let Some(row) = db::users::find(&state(ctx).db, id).await? else {
            return Ok(None);
        };
        if id == p.user_id {
            User::of_caller(row, p).map(Some)
        } else {
            User::for_admin(row, p).map(Some)
        }
    }

    /// Every user (ADMIN only), oldest first.
    #[graphql(complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 0 to 100; 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the page before.")] after: Option<String>,
        #[graphql(desc = "Only users matching this.")] filter: Option<UserFilter>,
    ) -> AppResult<Page<User>> {
        let p = principal(ctx)?;
        p.require_admin()?;
        let limit = page_size(first)?;
        let after_id = decode_id_cursor(after.as_deref())?;
        let search = filter.unwrap_or_default().search;
        let db = &state(ctx).db;
        let rows = db::users::page(db, search.as_deref(), after_id, limit as i64 + 1).await?;
        let total = if wants_total(ctx) {
            db::users::count(db, search.as_deref()).await?
        } else {
            0
        };
        build_page(
            rows,
            limit,
            after_id.is_some(),
            TotalCount::Known(total),
            |u| CursorKey::Id(u.id),
            |row| User::for_admin(row, p),
        )
    }

    /// Your API tokens that are not revoked, newest first.
    async fn api_tokens(&self, ctx: &Context<'_>) -> AppResult<Vec<ApiToken>> {
        let p = principal(ctx)?;
        let rows = db::api_tokens::list(&state(ctx).db, p.user_id).await?;
        rows.into_iter()
            .map(|row| ApiToken::of_caller(row, p))
            .collect()
    }
}

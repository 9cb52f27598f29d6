//! Typed access to what the HTTP edge attached to a request.

use std::net::IpAddr;

use async_graphql::Context;

use crate::auth::principal::Principal;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The client's address as the edge decided it (trusted proxies considered).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

/// The signed-in caller. The gate already refused anonymous callers for every non-public
/// root field, so this failing means a public field reached for a principal.
pub fn principal<'a>(ctx: &Context<'a>) -> AppResult<&'a Principal> {
    ctx.data_opt::<Principal>()
        .ok_or_else(|| AppError::Unauthenticated("sign in first".into()))
}

pub fn client_addr(ctx: &Context<'_>) -> IpAddr {
    ctx.data_opt::<ClientAddr>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |a| a.0)
}

//! Failed-login limits, per account and per client address, in fixed windows.
//!
//! Checked before a password is verified (a locked account costs no hashing) and counted
//! only on failure; a success resets nothing, so one address's success cannot lift the
//! limit another address ran into.

use std::net::IpAddr;
use std::time::Duration;

use crate::cache::Cache;
use crate::config::Config;
use crate::error::{AppError, AppResult};

fn account_key(email: &str) -> String {
    format!("rl:login:account:{email}")
}

fn address_key(addr: IpAddr) -> String {
    format!("rl:login:address:{addr}")
}

fn register_key(addr: IpAddr) -> String {
    format!("rl:register:address:{addr}")
}

/// Refuses with RATE_LIMITED when the account or the address used up its failures.
pub async fn check(cache: &Cache, config: &Config, email: &str, addr: IpAddr) -> AppResult<()> {
    let account = cache.peek(&account_key(email)).await;
    let address = cache.peek(&address_key(addr)).await;
    let mut retry_after = 0;
    if account.count >= u64::from(config.login_failures_per_account) {
        retry_after = retry_after.max(account.resets_in_secs);
    }
    if address.count >= u64::from(config.login_failures_per_address) {
        retry_after = retry_after.max(address.resets_in_secs);
    }
    if retry_after > 0 {
        return Err(AppError::RateLimited {
            retry_after_secs: retry_after,
        });
    }
    Ok(())
}

/// Counts one failure against the account and the address.
pub async fn record_failure(cache: &Cache, config: &Config, email: &str, addr: IpAddr) {
    let window = Duration::from_secs(config.login_window_secs);
    cache.hit(&account_key(email), window).await;
    cache.hit(&address_key(addr), window).await;
}

/// Counts a registration from an address, refusing past the configured limit (if any).
pub async fn check_registration(cache: &Cache, config: &Config, addr: IpAddr) -> AppResult<()> {
    if config.registrations_per_address == 0 {
        return Ok(());
    }
    let window = Duration::from_secs(config.login_window_secs);
    let hits = cache.hit(&register_key(addr), window).await;
    if hits.count > u64::from(config.registrations_per_address) {
        return Err(AppError::RateLimited {
            retry_after_secs: hits.resets_in_secs,
        });
    }
    Ok(())
}

//! Password hashing with argon2id (OWASP parameters), always on the hashing pool
//! (`hasher`), never on the async runtime.

use std::sync::LazyLock;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::auth::hasher;
use crate::error::{AppError, AppResult};

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, in bytes (bounds the hashing work an attacker can ask for).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// OWASP's argon2id recommendation: m = 19 MiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a password nobody has, verified when the account does not exist so that an
/// unknown email costs the same time as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    argon2()
        .hash_password(b"maestro-dummy-password-never-valid")
        .expect("hashing a constant succeeds")
        .to_string()
});

/// Checks the length rules; `field` names the input at fault.
pub fn validate_new_password(field: &str, password: &SecretString) -> AppResult<()> {
    let pw = password.expose_secret();
    if pw.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::validation(
            field,
            format!("password is too long: at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    if pw.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::validation(
            field,
            format!("password is too short: use at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Hashes a new password into a PHC string.
pub async fn hash(password: SecretString) -> AppResult<String> {
    hasher::run(move || {
        argon2()
            .hash_password(password.expose_secret().as_bytes())
            .map(|h| h.to_string())
    })
    .await?
    .map_err(|e| AppError::from(anyhow::anyhow!("argon2 hashing failed: {e}")))
}

/// Verifies a password against a stored PHC string, or against the dummy hash when there
/// is none, so both cases take the same time. Returns whether it matched.
pub async fn verify(password: SecretString, stored: Option<String>) -> AppResult<bool> {
    hasher::run(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let ok = argon2()
            .verify_password(password.expose_secret().as_bytes(), phc.as_str())
            .is_ok();
        ok && known
    })
    .await
}

/// Computes the dummy hash ahead of the first login so it does not skew that one's timing.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
    hasher::release_freed_memory();
}

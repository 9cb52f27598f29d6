//! Opaque bearer secrets (refresh tokens, API tokens): random, prefixed so they are
//! recognisable (and findable by secret scanners), stored only as SHA-256 hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "mrt_";
/// Prefix of API tokens.
pub const API_TOKEN_PREFIX: &str = "mst_";

/// A new secret: the prefix and 32 random bytes, base64url.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a secret. The secrets carry 256 bits of entropy, so a fast hash is
/// enough: there is nothing to brute-force.
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Random bytes (for development JWT keys).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes
}

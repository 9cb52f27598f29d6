//! Access tokens: short-lived JWTs, HS256 only, every registered claim checked (RFC 8725).

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "maestro";
pub const AUDIENCE: &str = "maestro-api";
/// The `typ` of access tokens, in the header (RFC 9068) and as a claim.
pub const ACCESS_TYP: &str = "at+jwt";
/// Lifetime of an access token.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: Uuid,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    /// Unique id of this token, for logs and tracing.
    pub jti: Uuid,
    /// The session (refresh-token family) the token was minted for.
    pub sid: Uuid,
    pub typ: String,
}

/// Why a bearer token was refused; the client only ever learns "invalid_token".
#[derive(Debug, thiserror::Error)]
#[error("invalid access token: {0}")]
pub struct InvalidToken(pub String);

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Mints an access token for a user's session.
    pub fn issue(&self, user_id: Uuid, session_id: Uuid) -> anyhow::Result<(String, Claims)> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user_id,
            exp: now + ACCESS_TTL_SECS,
            iat: now,
            nbf: now,
            jti: Uuid::new_v4(),
            sid: session_id,
            typ: ACCESS_TYP.into(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TYP.into());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)?;
        Ok((token, claims))
    }

    /// Verifies signature, algorithm, issuer, audience, time claims and `typ`.
    pub fn verify(&self, token: &str) -> Result<Claims, InvalidToken> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| InvalidToken(e.to_string()))?;
        if data.header.typ.as_deref() != Some(ACCESS_TYP) || data.claims.typ != ACCESS_TYP {
            return Err(InvalidToken("wrong token type".into()));
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_with_its_own_key() {
        let keys = JwtKeys::new(&[7u8; 32]);
        let (token, claims) = keys.issue(Uuid::new_v4(), Uuid::new_v4()).unwrap();
        assert_eq!(keys.verify(&token).unwrap().jti, claims.jti);
        let other = JwtKeys::new(&[8u8; 32]);
        assert!(other.verify(&token).is_err());
    }

    #[test]
    fn a_token_with_another_typ_is_refused() {
        let keys = JwtKeys::new(&[7u8; 32]);
        let (_, mut claims) = keys.issue(Uuid::new_v4(), Uuid::new_v4()).unwrap();
        claims.typ = "refresh".into();
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TYP.into());
        let token =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&[7u8; 32])).unwrap();
        assert!(keys.verify(&token).is_err());
    }
}

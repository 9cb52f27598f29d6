//! Every way a bearer token can be wrong answers 401 `invalid_token` before anything runs.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{JWT_SECRET, TestApp, unique_email};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const ME: &str = "{ me { id } }";

fn claims(user_id: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": "maestro", "aud": "maestro-api", "sub": user_id,
        "iat": now, "nbf": now, "exp": now + 600,
        "jti": uuid::Uuid::new_v4(), "sid": uuid::Uuid::new_v4(), "typ": "at+jwt",
    })
}

fn sign(claims: &Value, secret: &str, alg: Algorithm, typ: &str) -> String {
    let mut header = Header::new(alg);
    header.typ = Some(typ.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

async fn assert_invalid_token(app: &TestApp, token: &str, case: &str) {
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", format!("Bearer {token}"))
        .json(&json!({ "query": ME }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401, "{case}");
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("Bearer"), "{case}: {challenge}");
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "{case}: {challenge}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{case}"
    );
    assert!(body.get("data").is_none(), "{case}: nothing executed");
}

#[tokio::test]
async fn a_well_formed_token_signed_by_us_is_accepted() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("ok")).await;
    // The session the server opened at registration, read from its own token.
    let payload = session.access.split('.').nth(1).unwrap();
    let real: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let ours = with(claims(&session.user_id), "sid", real["sid"].clone());
    let token = sign(&ours, JWT_SECRET, Algorithm::HS256, "at+jwt");
    let data = app.gql(Some(&token), ME, json!({})).await;
    assert_eq!(data["me"]["id"], session.user_id.as_str());
    // Signed with our key, but for a session that never existed.
    let unknown_session = sign(
        &claims(&session.user_id),
        JWT_SECRET,
        Algorithm::HS256,
        "at+jwt",
    );
    let (status, _) = app.gql_raw(Some(&unknown_session), ME, json!({})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn every_kind_of_bad_token_is_refused() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("victim")).await;
    let good = claims(&session.user_id);
    let now = chrono::Utc::now().timestamp();

    // Signature tampering: flip a character of the real token's signature and payload.
    let real = session.access.clone();
    let mut tampered_sig = real.clone();
    let last = tampered_sig.pop().unwrap();
    tampered_sig.push(if last == 'A' { 'B' } else { 'A' });
    let parts: Vec<&str> = real.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = json!(uuid::Uuid::new_v4());
    let forged_payload = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    // alg "none": header and payload, empty signature.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#);
    let alg_none = format!(
        "{none_header}.{}.",
        URL_SAFE_NO_PAD.encode(good.to_string())
    );

    let cases: Vec<(&str, String)> = vec![
        ("not a JWT", "hello".into()),
        ("three dots of garbage", "a.b.c".into()),
        ("tampered signature", tampered_sig),
        ("tampered payload", forged_payload),
        ("alg none", alg_none),
        (
            "signed with another key",
            sign(
                &good,
                "another-secret-another-secret-0123456789",
                Algorithm::HS256,
                "at+jwt",
            ),
        ),
        (
            "HS512 instead of HS256",
            sign(&good, JWT_SECRET, Algorithm::HS512, "at+jwt"),
        ),
        (
            "expired",
            sign(
                &with(good.clone(), "exp", json!(now - 120)),
                JWT_SECRET,
                Algorithm::HS256,
                "at+jwt",
            ),
        ),
        (
            "not yet valid",
            sign(
                &with(good.clone(), "nbf", json!(now + 600)),
                JWT_SECRET,
                Algorithm::HS256,
                "at+jwt",
            ),
        ),
        (
            "wrong issuer",
            sign(
                &with(good.clone(), "iss", json!("evil")),
                JWT_SECRET,
                Algorithm::HS256,
                "at+jwt",
            ),
        ),
        (
            "wrong audience",
            sign(
                &with(good.clone(), "aud", json!("other-api")),
                JWT_SECRET,
                Algorithm::HS256,
                "at+jwt",
            ),
        ),
        (
            "wrong typ claim",
            sign(
                &with(good.clone(), "typ", json!("refresh")),
                JWT_SECRET,
                Algorithm::HS256,
                "at+jwt",
            ),
        ),
        (
            "wrong typ header",
            sign(&good, JWT_SECRET, Algorithm::HS256, "JWT"),
        ),
        (
            "no exp",
            sign(
                &{
                    let mut c = good.clone();
                    c.as_object_mut().unwrap().remove("exp");
                    c
                },
                JWT_SECRET,
                Algorithm::HS256,
                "at+jwt",
            ),
        ),
        (
            "unknown user",
            sign(
                &claims(&uuid::Uuid::new_v4().to_string()),
                JWT_SECRET,
                Algorithm::HS256,
                "at+jwt",
            ),
        ),
        ("unknown API token", "mst_doesnotexist".into()),
    ];
    for (case, token) in cases {
        assert_invalid_token(&app, &token, case).await;
    }
}

#[tokio::test]
async fn a_malformed_authorization_header_is_refused() {
    let app = TestApp::spawn().await;
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "token"] {
        let resp = app
            .client
            .post(app.url("/graphql"))
            .header("authorization", header)
            .json(&json!({ "query": "mutation { login(input: {email: \"a@b.co\", password: \"x\"}) { accessToken } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{header}");
        let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("invalid_token"), "{header}");
    }
}

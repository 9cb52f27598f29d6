//! Accounts and sessions over HTTP: registration, login, rotation, logout, passwords.

mod common;

use common::{PASSWORD, TestApp, error_code, unique_email};
use serde_json::json;

const ME: &str = "{ me { id email role } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";

#[tokio::test]
async fn the_first_user_becomes_admin_and_the_next_a_member() {
    let app = TestApp::spawn().await;
    let first = app.register(&unique_email("first")).await;
    let second = app.register(&unique_email("second")).await;
    assert_eq!(first.role, "ADMIN");
    assert_eq!(second.role, "MEMBER");
}

#[tokio::test]
async fn me_answers_the_caller_with_a_normalized_email() {
    let app = TestApp::spawn().await;
    let email = unique_email("Ada");
    let session = app.register(&format!("  {} ", email.to_uppercase())).await;
    let data = app.gql(Some(&session.access), ME, json!({})).await;
    assert_eq!(data["me"]["id"], session.user_id.as_str());
    assert_eq!(data["me"]["email"], email.to_lowercase());
}

#[tokio::test]
async fn an_email_registers_once_whatever_its_case() {
    let app = TestApp::spawn().await;
    let email = unique_email("dup");
    app.register(&email).await;
    let code = app
        .gql_err(
            None,
            "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
            json!({ "i": { "email": email.to_uppercase(), "password": PASSWORD, "name": "X" } }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
}

#[tokio::test]
async fn weak_passwords_and_bad_emails_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let register = "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }";
    for (email, password, field) in [
        (unique_email("a"), "short".to_string(), "password"),
        (unique_email("b"), "x".repeat(1025), "password"),
        ("not-an-email".to_string(), PASSWORD.to_string(), "email"),
    ] {
        let (_, body) = app
            .gql_raw(
                None,
                register,
                json!({ "i": { "email": email, "password": password, "name": "X" } }),
            )
            .await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn closed_registration_refuses_everyone_but_the_first_user() {
    let app = TestApp::spawn_with(|c| c.registration_open = false).await;
    let first = app.register(&unique_email("founder")).await;
    assert_eq!(first.role, "ADMIN");
    let code = app
        .gql_err(
            None,
            "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
            json!({ "i": { "email": unique_email("late"), "password": PASSWORD, "name": "X" } }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let email = unique_email("known");
    app.register(&email).await;
    let (s1, wrong_password) = app.login(&email, "not the password at all").await;
    let (s2, unknown_email) = app
        .login(&unique_email("unknown"), "not the password at all")
        .await;
    assert_eq!(s1, s2);
    assert_eq!(
        wrong_password["errors"][0]["message"],
        unknown_email["errors"][0]["message"]
    );
    assert_eq!(
        error_code(&wrong_password).as_deref(),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        error_code(&unknown_email).as_deref(),
        Some("UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn login_succeeds_with_the_right_password_in_any_email_case() {
    let app = TestApp::spawn().await;
    let email = unique_email("login");
    let registered = app.register(&email).await;
    let (status, body) = app.login(&email.to_uppercase(), PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["login"]["user"]["id"],
        registered.user_id.as_str()
    );
}

#[tokio::test]
async fn a_refresh_token_rotates_and_its_reuse_revokes_the_family() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("rotate")).await;

    let rotated = app
        .gql(None, REFRESH, json!({ "t": session.refresh }))
        .await;
    let second_refresh = rotated["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    let second_access = rotated["refreshToken"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(second_refresh, session.refresh);
    app.gql(Some(&second_access), ME, json!({})).await;

    // The spent token comes back: an attacker may hold it, so the whole session ends.
    assert_eq!(
        app.gql_err(None, REFRESH, json!({ "t": session.refresh }))
            .await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.gql_err(None, REFRESH, json!({ "t": second_refresh }))
            .await,
        "UNAUTHENTICATED"
    );
    let (status, _) = app.gql_raw(Some(&second_access), ME, json!({})).await;
    assert_eq!(
        status, 401,
        "access tokens of a revoked family stop at once"
    );
}

#[tokio::test]
async fn garbage_refresh_tokens_are_refused() {
    let app = TestApp::spawn().await;
    for token in ["", "mrt_nope", "eyJhbGciOiJIUzI1NiJ9.e30.x"] {
        assert_eq!(
            app.gql_err(None, REFRESH, json!({ "t": token })).await,
            "UNAUTHENTICATED"
        );
    }
}

#[tokio::test]
async fn logout_ends_the_session_and_its_access_token_at_once() {
    let app = TestApp::spawn().await;
    let email = unique_email("logout");
    let session = app.register(&email).await;
    let (_, other) = app.login(&email, PASSWORD).await;
    let other_access = other["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();

    let done = app
        .gql(Some(&session.access), "mutation { logout }", json!({}))
        .await;
    assert_eq!(done["logout"], true);
    let (status, _) = app.gql_raw(Some(&session.access), ME, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(
        app.gql_err(None, REFRESH, json!({ "t": session.refresh }))
            .await,
        "UNAUTHENTICATED"
    );
    // The other session is untouched.
    app.gql(Some(&other_access), ME, json!({})).await;
}

#[tokio::test]
async fn logout_of_all_sessions_ends_every_one() {
    let app = TestApp::spawn().await;
    let email = unique_email("logoutall");
    let session = app.register(&email).await;
    let (_, other) = app.login(&email, PASSWORD).await;
    let other_access = other["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let other_refresh = other["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();

    app.gql(
        Some(&session.access),
        "mutation { logout(allSessions: true) }",
        json!({}),
    )
    .await;
    for access in [&session.access, &other_access] {
        let (status, _) = app.gql_raw(Some(access), ME, json!({})).await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        app.gql_err(None, REFRESH, json!({ "t": other_refresh }))
            .await,
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn logout_by_refresh_token_ends_that_session_only() {
    let app = TestApp::spawn().await;
    let email = unique_email("logoutone");
    let session = app.register(&email).await;
    let (_, other) = app.login(&email, PASSWORD).await;
    let other_access = other["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let other_refresh = other["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();

    app.gql(
        Some(&session.access),
        "mutation($t: String) { logout(refreshToken: $t) }",
        json!({ "t": other_refresh }),
    )
    .await;
    let (status, _) = app.gql_raw(Some(&other_access), ME, json!({})).await;
    assert_eq!(status, 401);
    app.gql(Some(&session.access), ME, json!({})).await;
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_but_not_this_one() {
    let app = TestApp::spawn().await;
    let email = unique_email("pw");
    let session = app.register(&email).await;
    let (_, other) = app.login(&email, PASSWORD).await;
    let other_access = other["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let change = "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }";
    let new_password = "an entirely new passphrase";

    let (_, wrong) = app
        .gql_raw(
            Some(&session.access),
            change,
            json!({ "i": { "currentPassword": "wrong password!", "newPassword": new_password } }),
        )
        .await;
    assert_eq!(error_code(&wrong).as_deref(), Some("BAD_USER_INPUT"));
    assert_eq!(wrong["errors"][0]["extensions"]["field"], "currentPassword");

    app.gql(
        Some(&session.access),
        change,
        json!({ "i": { "currentPassword": PASSWORD, "newPassword": new_password } }),
    )
    .await;
    app.gql(Some(&session.access), ME, json!({})).await;
    let (status, _) = app.gql_raw(Some(&other_access), ME, json!({})).await;
    assert_eq!(status, 401);
    let (_, old) = app.login(&email, PASSWORD).await;
    assert_eq!(error_code(&old).as_deref(), Some("UNAUTHENTICATED"));
    let (status, fresh) = app.login(&email, new_password).await;
    assert_eq!(status, 200);
    assert!(fresh["data"]["login"]["accessToken"].is_string());
}

#[tokio::test]
async fn an_admin_can_disable_a_user_whose_tokens_then_stop() {
    let app = TestApp::spawn().await;
    let admin = app.register(&unique_email("admin")).await;
    let email = unique_email("member");
    let member = app.register(&email).await;
    app.gql(
        Some(&admin.access),
        "mutation($id: ID!) { updateUser(id: $id, input: { disabled: true }) { disabled } }",
        json!({ "id": member.user_id }),
    )
    .await;
    let (status, _) = app.gql_raw(Some(&member.access), ME, json!({})).await;
    assert_eq!(status, 401);
    let (_, login) = app.login(&email, PASSWORD).await;
    assert_eq!(error_code(&login).as_deref(), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn only_an_admin_lists_users() {
    let app = TestApp::spawn().await;
    let admin = app.register(&unique_email("admin")).await;
    let member = app.register(&unique_email("member")).await;
    let list = "{ users(first: 1) { totalCount edges { node { email } } pageInfo { hasNextPage endCursor } } }";
    let data = app.gql(Some(&admin.access), list, json!({})).await;
    assert_eq!(data["users"]["totalCount"], 2);
    assert_eq!(data["users"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        app.gql_err(Some(&member.access), list, json!({})).await,
        "FORBIDDEN"
    );
    let other = app
        .gql(
            Some(&member.access),
            "query($id: ID!) { user(id: $id) { email } }",
            json!({ "id": admin.user_id }),
        )
        .await;
    assert!(
        other["user"].is_null(),
        "a member cannot look up other users by id"
    );
}

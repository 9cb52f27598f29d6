//! Deny by default: every root field refuses an anonymous caller, except the public four.
//! The fields come from the built schema itself, so a field added later is covered.

mod common;

use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use common::{TestApp, error_code};
use serde_json::json;

const PUBLIC: &[&str] = &["register", "login", "refreshToken", "registrationOpen"];

/// (operation keyword, field name) of every root field of the schema.
fn root_fields() -> Vec<(&'static str, String)> {
    let doc = async_graphql::parser::parse_schema(maestro::graphql::schema::sdl()).unwrap();
    let mut out = Vec::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(ty) = def else {
            continue;
        };
        let keyword = match ty.node.name.node.as_str() {
            "Query" => "query",
            "Mutation" => "mutation",
            "Subscription" => "subscription",
            _ => continue,
        };
        if let TypeKind::Object(obj) = &ty.node.kind {
            for field in &obj.fields {
                out.push((keyword, field.node.name.node.to_string()));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_root_field_but_the_public_ones_refuses_anonymous_callers() {
    let app = TestApp::spawn().await;
    let fields = root_fields();
    assert!(
        fields.len() > 10,
        "the schema walk found the root fields: {fields:?}"
    );
    for (keyword, field) in fields.iter().filter(|(_, f)| !PUBLIC.contains(&f.as_str())) {
        // No arguments or selections: the gate must refuse before validation looks.
        let query = format!("{keyword} {{ {field} }}");
        let resp = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{query}");
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(
            error_code(&body).as_deref(),
            Some("UNAUTHENTICATED"),
            "{query}: {body}"
        );
        assert!(body.get("data").is_none(), "{query}: nothing ran");
    }
}

#[tokio::test]
async fn the_gate_sees_through_fragments_and_aliases() {
    let app = TestApp::spawn().await;
    for query in [
        "query { ...F } fragment F on Query { me { id } }",
        "query { ... on Query { me { id } } }",
        "query { innocent: me { id } }",
        "query { __typename me { id } }",
    ] {
        let (status, body) = app.gql_raw(None, query, json!({})).await;
        assert_eq!(status, 401, "{query}: {body}");
    }
}

#[tokio::test]
async fn public_fields_and_typename_need_no_token() {
    let app = TestApp::spawn().await;
    let data = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(data["__typename"], "Query");
    let (status, body) = app
        .gql_raw(
            None,
            "mutation { refreshToken(refreshToken: \"mrt_x\") { accessToken } }",
            json!({}),
        )
        .await;
    assert_eq!(
        status, 200,
        "a public field runs (and fails on its own terms): {body}"
    );
    assert_eq!(error_code(&body).as_deref(), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn anyone_may_ask_whether_registration_is_open() {
    let closed = TestApp::spawn_with(|c| c.registration_open = false).await;
    let ask = "{ registrationOpen }";
    let first = closed.gql(None, ask, json!({})).await;
    assert_eq!(
        first["registrationOpen"], true,
        "the first account may always register"
    );
    closed.register(&common::unique_email("first")).await;
    let then = closed.gql(None, ask, json!({})).await;
    assert_eq!(then["registrationOpen"], false);
    let open = TestApp::spawn().await;
    open.register(&common::unique_email("first")).await;
    assert_eq!(
        open.gql(None, ask, json!({})).await["registrationOpen"],
        true
    );
}

#[tokio::test]
async fn introspection_is_open_in_development() {
    let app = TestApp::spawn().await;
    let data = app
        .gql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn production_closes_introspection_and_suggestions_to_anonymous_callers() {
    let app = TestApp::spawn_with(|c| c.env = maestro::config::Environment::Production).await;
    let (status, _) = app
        .gql_raw(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .gql_raw(None, "{ __type(name: \"User\") { name } }", json!({}))
        .await;
    assert_eq!(status, 401);
    let (_, body) = app
        .gql_raw(
            None,
            "mutation { login(input: {email: \"a@b.co\", pasword: \"x\"}) { acessToken } }",
            json!({}),
        )
        .await;
    assert!(
        !body.to_string().contains("Did you mean"),
        "no suggestions: {body}"
    );
}

#[test]
fn production_refuses_to_start_without_a_strong_jwt_secret() {
    let mut config = common::test_config();
    config.env = maestro::config::Environment::Production;
    config.jwt_secret = None;
    assert!(config.check_production().is_err());
    config.jwt_secret = Some("too-short".to_string().into());
    assert!(config.check_production().is_err());
    config.jwt_secret = Some(common::JWT_SECRET.to_string().into());
    assert!(config.check_production().is_ok());
}

//! How answers are written: in the order the fields were asked for (the GraphQL spec's
//! rule, which a JSON tree with sorted keys breaks), straight from the execution result.

mod common;

use common::{TestApp, unique_email};
use serde_json::json;

/// Where each of `needles` first occurs in `text`, in order; panics on a missing one.
fn positions(text: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| {
            text.find(n)
                .unwrap_or_else(|| panic!("{n} missing in {text}"))
        })
        .collect()
}

#[tokio::test]
async fn fields_come_back_in_the_order_they_were_asked_for() {
    let app = TestApp::spawn().await;
    let s = app.register(&unique_email("order")).await;
    let project = app.create_project(&s.access, "ordered").await;
    // Reverse-alphabetical on purpose: sorted keys would put them the other way round.
    let query = r#"query($id: ID!) {
        zeta: me { role name id email }
        project(id: $id) { updatedAt name id createdAt }
        alpha: __typename
    }"#;
    let resp = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&s.access)
        .json(&json!({ "query": query, "variables": { "id": project } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    let at = positions(
        &text,
        &[
            "\"zeta\"",
            "\"role\"",
            "\"name\"",
            "\"id\"",
            "\"email\"",
            "\"project\"",
            "\"updatedAt\"",
            "\"createdAt\"",
            "\"alpha\"",
        ],
    );
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "fields out of the requested order: {text}"
    );
}

#[tokio::test]
async fn errors_keep_their_codes_and_data_stays_beside_them() {
    let app = TestApp::spawn().await;
    let s = app.register(&unique_email("errs")).await;
    let (status, body) = app
        .gql_raw(
            Some(&s.access),
            "{ me { id } project(id: \"not-an-id\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body["data"]["me"]["id"].is_string(), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["path"], json!(["project"]));
}

//! Generated documents thrown at the request entry of a live server: whatever arrives,
//! the server answers with a client error or a result, never a server error, and stays up.
//! Bounded by case count (`PROPTEST_CASES`, default 2,000) so the test command stays short.

mod common;

use common::{TestApp, unique_email};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Value, json};

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("__typename".to_string()),
        Just("me { id email }".to_string()),
        Just("projects(first: 5) { totalCount edges { node { id } } }".to_string()),
        Just(
            "runs(experimentIds: [\"x\"], filter: {or: [{name: \"a\"}]}) { totalCount }"
                .to_string()
        ),
        Just("login(input: {email: \"a@b.c\", password: \"p\"}) { accessToken }".to_string()),
        Just("createProject(input: {name: \"p\\u0000\"}) { id }".to_string()),
        Just("\"s\\u0000\"".to_string()),
        Just("\"\"\"block \\\"\"\" \"\"\"".to_string()),
        Just("$v".to_string()),
        Just("...F".to_string()),
        Just("... on Query { __typename }".to_string()),
        Just("@include(if: true)".to_string()),
        Just("@skip(if: $v)".to_string()),
        Just("fragment F on Query { __typename ...F }".to_string()),
        Just("query".to_string()),
        Just("mutation".to_string()),
        Just("subscription".to_string()),
        Just("__schema { types { name } }".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just(":".to_string()),
        Just("#".to_string()),
        Just("\n".to_string()),
        Just("1e999".to_string()),
        Just("-9223372036854775809".to_string()),
        Just("null".to_string()),
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

/// GraphQL-shaped text: real fields and syntax, nested and concatenated at random.
fn document() -> impl Strategy<Value = String> {
    let leaf = vec(token(), 0..16).prop_map(|t| t.join(" "));
    leaf.prop_recursive(6, 128, 6, |inner| {
        prop_oneof![
            inner.clone().prop_map(|s| format!("{{ {s} }}")),
            inner.clone().prop_map(|s| format!("mutation {{ {s} }}")),
            inner
                .clone()
                .prop_map(|s| format!("project(id: [{s}]) {{ id }}")),
            inner
                .clone()
                .prop_map(|s| format!("query Q($v: String = \"x\") {{ {s} }}")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a} {b}")),
        ]
    })
}

/// Deep nesting of each kind, from harmless to far past the limit.
fn deep() -> impl Strategy<Value = String> {
    let opener = prop_oneof![
        Just(("[", "]")),
        Just(("{a: ", "}")),
        Just(("(", ")")),
        Just(("{ a ", "}"))
    ];
    (opener, 0usize..3000).prop_map(|((open, close), n)| {
        format!(
            "{{ project(id: {}{}) {{ id }} }}",
            open.repeat(n),
            close.repeat(n)
        )
    })
}

/// Fragments that spread the next one several times: exponential once expanded.
fn fragment_bomb() -> impl Strategy<Value = String> {
    (1usize..60, 1usize..4).prop_map(|(levels, fan_out)| {
        let mut doc = String::from("{ ...F0 }\n");
        for i in 0..levels {
            let spreads = format!("...F{} ", i + 1).repeat(fan_out);
            doc.push_str(&format!("fragment F{i} on Query {{ {spreads} }}\n"));
        }
        doc.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
        doc
    })
}

/// Variables: nested JSON of random depth, strings with NUL among them.
fn variables() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!(null)),
        Just(json!("x\u{0}y")),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(json!(0), Value::Number)),
        ".{0,12}".prop_map(|s: String| json!(s)),
    ];
    let nested = leaf.prop_recursive(8, 64, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec(inner, 0..4).prop_map(|items| {
                Value::Object(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (format!("k{i}"), v))
                        .collect(),
                )
            }),
        ]
    });
    (nested, 0usize..200).prop_map(|(v, wrap)| {
        let mut value = v;
        for _ in 0..wrap {
            value = json!([value]);
        }
        json!({ "v": value })
    })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000)
}

#[test]
fn no_generated_request_gets_a_server_error_or_takes_the_server_down() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(TestApp::spawn());
    let token = rt.block_on(app.register(&unique_email("fuzz"))).access;
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let query = prop_oneof![4 => document(), 1 => deep(), 1 => fragment_bomb()];
    proptest!(config, |(query in query, variables in variables(), signed_in: bool, by_get: bool)| {
        let answer = rt.block_on(async {
            let token = signed_in.then_some(token.as_str());
            let request = if by_get {
                let mut url = reqwest::Url::parse(&app.url("/graphql")).unwrap();
                url.query_pairs_mut()
                    .append_pair("query", &query)
                    .append_pair("variables", &variables.to_string());
                let mut req = app.client.get(url);
                if let Some(t) = token { req = req.bearer_auth(t); }
                req
            } else {
                let mut req = app.client.post(app.url("/graphql"))
                    .json(&json!({ "query": query, "variables": variables }));
                if let Some(t) = token { req = req.bearer_auth(t); }
                req
            };
            let resp = request.send().await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let body = resp.text().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((status, body))
        });
        let (status, body) = answer.map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
        prop_assert!(status < 500, "{status}: {body}");
        prop_assert!(!body.contains("INTERNAL_SERVER_ERROR"), "{body}");
    });
    // Still up, still right.
    let data = rt.block_on(app.gql(Some(&token), "{ me { id } }", json!({})));
    assert!(data["me"]["id"].is_string());
}

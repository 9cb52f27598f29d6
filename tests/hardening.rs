//! Hostile input and lost state: nesting, fragment bombs, NUL characters, the standard
//! introspection query, and revocation that outlives the cache.

mod common;

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
use common::processes::PrivateRedis;
use common::{PASSWORD, TestApp, error_code, unique_email};
use maestro::config::Environment;
use serde_json::{Value, json};

async fn post_text(app: &TestApp, body: String) -> (u16, Value) {
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn get_query(app: &TestApp, params: &[(&str, &str)]) -> (u16, Value) {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let resp = app
        .client
        .get(app.url(&format!("/graphql?{}", query.join("&"))))
        .send()
        .await
        .expect("the server answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn assert_refused(status: u16, body: &Value, field: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        error_code(body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
}

#[tokio::test]
async fn deeply_nested_input_is_refused_before_parsing_on_every_route() {
    let app = TestApp::spawn().await;
    let n = 5000;
    let shapes = [
        format!(
            "{{ project(id: {}{}) {{ id }} }}",
            "[".repeat(n),
            "]".repeat(n)
        ),
        format!(
            "{{ project(id: {}1{}) {{ id }} }}",
            "{a: ".repeat(n),
            "}".repeat(n)
        ),
        format!("{}{}", "{ a ".repeat(n), "}".repeat(n)),
        format!("{{ a{}{} }}", "(".repeat(n), ")".repeat(n)),
    ];
    for query in &shapes {
        let (status, body) = post_text(&app, json!({ "query": query }).to_string()).await;
        assert_refused(status, &body, "query");
        let (status, body) = get_query(&app, &[("query", query)]).await;
        assert_refused(status, &body, "query");
    }
    // Nesting in JSON: variables, extensions, anywhere in the body.
    let deep_json = format!("{}{}", "[".repeat(n), "]".repeat(n));
    let body = format!(
        r#"{{"query": "query($v: [Int]) {{ __typename }}", "variables": {{"v": {deep_json}}}}}"#
    );
    let (status, answer) = post_text(&app, body).await;
    assert_refused(status, &answer, "body");
    let body = format!(r#"{{"query": "{{ __typename }}", "extensions": {{"x": {deep_json}}}}}"#);
    let (status, answer) = post_text(&app, body).await;
    assert_refused(status, &answer, "body");
    let variables = format!(r#"{{"v": {deep_json}}}"#);
    let (status, answer) = get_query(
        &app,
        &[
            ("query", "query($v: [Int]) { __typename }"),
            ("variables", &variables),
        ],
    )
    .await;
    assert_eq!(
        (status, error_code(&answer).as_deref()),
        (400, Some("BAD_USER_INPUT"))
    );
    // Within the limit, nesting is fine, and the server is alive throughout.
    let ok = format!("{{ __typename a: __typename }} # {}", "[".repeat(n));
    let (status, body) = post_text(&app, json!({ "query": ok }).to_string()).await;
    assert_eq!(
        (status, &body["data"]["__typename"]),
        (200, &json!("Query"))
    );
}

#[tokio::test]
async fn fragments_that_expand_exponentially_are_refused_at_once() {
    let app = TestApp::spawn().await;
    // 2^30 selections once expanded, in under 2 KB, without a token.
    let mut query = String::from("{ ...F0 }\n");
    for i in 0..30 {
        query.push_str(&format!(
            "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
            i + 1,
            i + 1
        ));
    }
    query.push_str("fragment F30 on Query { __typename }\n");
    let (status, body) = post_text(&app, json!({ "query": query }).to_string()).await;
    assert_refused(status, &body, "query");
    assert!(body.to_string().contains("selects too much"), "{body}");
    // A chain deeper than the recursion limit is refused the same way.
    let mut chain = String::from("{ ...F0 }\n");
    for i in 0..100 {
        chain.push_str(&format!(
            "fragment F{i} on Query {{ __typename ...F{} }}\n",
            i + 1
        ));
    }
    chain.push_str("fragment F100 on Query { __typename }\n");
    let (status, body) = post_text(&app, json!({ "query": chain }).to_string()).await;
    assert_refused(status, &body, "query");
}

#[tokio::test]
async fn the_standard_introspection_query_works_for_signed_in_callers_in_production() {
    let app = TestApp::spawn_with(|c| c.env = Environment::Production).await;
    let session = app.register(&unique_email("introspect")).await;
    let query = include_str!("fixtures/introspection.graphql");
    let data = app.gql(Some(&session.access), query, json!({})).await;
    let types = data["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Run"));
    // Anonymous callers still may not introspect in production.
    let (status, _) = app.gql_raw(None, query, json!({})).await;
    assert_eq!(status, 401);
    // User queries keep their depth limit.
    let deep = "{ projects { edges { node { experiments { edges { node { runs { edges { node { experiment { project { experiments { totalCount } } } } } } } } } } } } }";
    let (_, body) = app.gql_raw(Some(&session.access), deep, json!({})).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{body}"
    );
    assert!(body.to_string().contains("nested too deep"), "{body}");
}

/// Empties the Redis server, as a restart without persistence or a failover does.
async fn flush(redis: &PrivateRedis) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("FLUSHALL")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn ended_sessions_stay_ended_after_redis_loses_its_data() {
    let redis = PrivateRedis::start();
    let app = TestApp::spawn_with(|c| c.redis_url = Some(redis.url())).await;
    let me = "{ me { id } }";
    let admin = app.register(&unique_email("admin")).await;

    // Logout.
    let (_, logged_out) = app.user("logout").await;
    app.gql(Some(&logged_out.access), "mutation { logout }", json!({}))
        .await;
    // Password change (ends the caller's other sessions).
    let (email, changer) = app.user("changer").await;
    let (_, body) = app.login(&email, PASSWORD).await;
    let other = body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql(
        Some(&changer.access),
        "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }",
        json!({ "i": { "currentPassword": PASSWORD, "newPassword": "another long password" } }),
    )
    .await;
    // An account disabled by an administrator.
    let (_, disabled) = app.user("disabled").await;
    app.gql(
        Some(&admin.access),
        "mutation($id: ID!) { updateUser(id: $id, input: { disabled: true }) { id } }",
        json!({ "id": disabled.user_id }),
    )
    .await;

    let ended = [&logged_out.access, &other, &disabled.access];
    for token in ended {
        assert_eq!(app.gql_raw(Some(token), me, json!({})).await.0, 401);
    }
    flush(&redis).await;
    // A second process on the same database and Redis knows nothing in memory: only
    // PostgreSQL can still say these sessions ended.
    let (database_url, prefix) = (
        app.database_url.clone(),
        app.state.config.redis_prefix.clone(),
    );
    let replica = TestApp::spawn_with(|c| {
        c.database_url = database_url;
        c.redis_url = Some(redis.url());
        c.redis_prefix = prefix;
    })
    .await;
    for server in [&app, &replica] {
        for token in ended {
            let (status, body) = server.gql_raw(Some(token), me, json!({})).await;
            assert_eq!(status, 401, "revived after the flush: {body}");
        }
    }
    // Live sessions are unaffected.
    replica.gql(Some(&changer.access), me, json!({})).await;
    replica.gql(Some(&admin.access), me, json!({})).await;
}

/// A path from a root field's argument to a string leaf: the argument, then input fields,
/// each with its type (lists included).
#[derive(Debug, Clone)]
struct StringPath {
    operation: &'static str,
    field: String,
    steps: Vec<(String, Type)>,
}

fn string_paths() -> Vec<StringPath> {
    let sdl = maestro::graphql::schema::sdl();
    let doc = async_graphql::parser::parse_schema(&sdl).unwrap();
    let mut objects = std::collections::HashMap::new();
    let mut inputs = std::collections::HashMap::new();
    for def in &doc.definitions {
        if let TypeSystemDefinition::Type(t) = def {
            let name = t.node.name.node.to_string();
            match &t.node.kind {
                TypeKind::Object(o) => {
                    objects.insert(name, o.fields.clone());
                }
                TypeKind::InputObject(i) => {
                    inputs.insert(name, i.fields.clone());
                }
                _ => {}
            }
        }
    }
    fn named(ty: &Type) -> &str {
        match &ty.base {
            BaseType::Named(n) => n.as_str(),
            BaseType::List(inner) => named(inner),
        }
    }
    fn walk(
        inputs: &std::collections::HashMap<
            String,
            Vec<async_graphql::Positioned<async_graphql::parser::types::InputValueDefinition>>,
        >,
        steps: Vec<(String, Type)>,
        out: &mut Vec<Vec<(String, Type)>>,
    ) {
        let ty = &steps.last().unwrap().1;
        let name = named(ty);
        if name == "String" || name == "ID" {
            out.push(steps);
            return;
        }
        // Recursive inputs (filters with and/or) are walked two levels deep.
        if steps.iter().filter(|(_, t)| named(t) == name).count() > 2 {
            return;
        }
        if let Some(fields) = inputs.get(name) {
            for f in fields {
                let mut next = steps.clone();
                next.push((f.node.name.node.to_string(), f.node.ty.node.clone()));
                walk(inputs, next, out);
            }
        }
    }
    let mut paths = Vec::new();
    for (root, operation) in [("Query", "query"), ("Mutation", "mutation")] {
        for field in objects.get(root).into_iter().flatten() {
            for arg in &field.node.arguments {
                let mut found = Vec::new();
                let first = vec![(arg.node.name.node.to_string(), arg.node.ty.node.clone())];
                walk(&inputs, first, &mut found);
                for steps in found {
                    paths.push(StringPath {
                        operation,
                        field: field.node.name.node.to_string(),
                        steps,
                    });
                }
            }
        }
    }
    paths
}

/// The value that puts `leaf` at the end of `steps`, wrapping lists where the types have them.
fn value_at(steps: &[(String, Type)], leaf: Value) -> Value {
    fn wrap(ty: &Type, inner: Value) -> Value {
        match &ty.base {
            BaseType::List(item) => json!([wrap(item, inner)]),
            BaseType::Named(_) => inner,
        }
    }
    let mut value = leaf;
    for (i, (_, ty)) in steps.iter().enumerate().rev() {
        value = wrap(ty, value);
        if i > 0 {
            value = json!({ steps[i].0.clone(): value });
        }
    }
    value
}

fn literal(value: &Value) -> String {
    match value {
        Value::Object(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(literal).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn a_nul_character_in_any_string_argument_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("nul")).await;
    let paths = string_paths();
    assert!(
        paths.len() > 50,
        "the walk found only {} string inputs",
        paths.len()
    );
    for path in &paths {
        let value = value_at(&path.steps, json!("bad\u{0}value"));
        let (arg, ty) = &path.steps[0];
        let leaf = &path.steps.last().unwrap().0;
        // As a variable, and as a literal in the document.
        let with_variable = format!(
            "{}($v: {ty}) {{ {}({arg}: $v) }}",
            path.operation, path.field
        );
        let (status, body) = app
            .gql_raw(Some(&session.access), &with_variable, json!({ "v": value }))
            .await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{path:?}: {status} {body}"
        );
        assert_eq!(
            &body["errors"][0]["extensions"]["field"], leaf,
            "{path:?}: {body}"
        );
        let inline = format!(
            "{} {{ {}({arg}: {}) }}",
            path.operation,
            path.field,
            literal(&value)
        );
        let (_, body) = app.gql_raw(Some(&session.access), &inline, json!({})).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{inline}: {body}"
        );
        assert_eq!(
            &body["errors"][0]["extensions"]["field"], leaf,
            "{inline}: {body}"
        );
    }
}

#[tokio::test]
async fn a_nul_character_in_otherwise_valid_calls_writes_nothing() {
    let app = TestApp::spawn().await;
    let (email, s) = app.user("nul-valid").await;
    let nul = "a\u{0}b";
    // Anonymous, through login.
    let (_, body) = app.login(&format!("{nul}{email}"), PASSWORD).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["field"], "email");
    let (_, body) = app
        .gql_raw(
            Some(&s.access),
            "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }",
            json!({ "i": { "name": "p", "description": nul } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "description",
        "{body}"
    );
    let project = app.create_project(&s.access, "clean").await;
    let experiment = app.create_experiment(&s.access, &project, "e").await;
    let run = app.create_run(&s.access, &experiment, "r").await;
    for (query, vars, field) in [
        (
            "mutation($r: ID!, $p: [ParamInput!]!) { logParams(runId: $r, params: $p) { id } }",
            json!({ "r": run, "p": [{ "key": "ok", "value": "fine" }, { "key": "lr", "value": nul }] }),
            "value",
        ),
        (
            "mutation($r: ID!, $t: [TagInput!]!) { setRunTags(runId: $r, tags: $t) { id } }",
            json!({ "r": run, "t": [{ "key": nul, "value": "v" }] }),
            "key",
        ),
        (
            "query($e: [ID!]!, $f: RunFilter) { runs(experimentIds: $e, filter: $f) { totalCount } }",
            json!({ "e": [experiment], "f": { "nameContains": nul } }),
            "nameContains",
        ),
    ] {
        let (_, body) = app.gql_raw(Some(&s.access), query, vars).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let data = app
        .gql(
            Some(&s.access),
            "query($id: ID!) { run(id: $id) { params { key } tags { key } } }",
            json!({ "id": run }),
        )
        .await;
    assert_eq!(
        data["run"]["params"],
        json!([]),
        "nothing of the refused call was written"
    );
    assert_eq!(data["run"]["tags"], json!([]));
}

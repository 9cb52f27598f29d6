//! The web app as the server serves it: every app path gets the app with its security
//! headers, hashed assets are cached for good, and the API's paths keep their meaning.
//! (What the app does in a browser is tested by `scripts/e2e.sh`.)

mod common;

use common::TestApp;
use maestro::http::app::is_built;

fn assert_secure(resp: &reqwest::Response, path: &str) {
    let h = resp.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(
            csp.contains(directive),
            "{path}: {directive} missing from {csp}"
        );
    }
    assert!(!csp.contains("unsafe"), "{path}: {csp}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
}

#[tokio::test]
async fn every_app_path_serves_the_app_with_its_security_headers() {
    let app = TestApp::spawn().await;
    for path in [
        "/",
        "/login",
        "/projects/0190",
        "/models/x/versions/3",
        "/no/such/page",
    ] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_secure(&resp, path);
        if is_built() {
            assert_eq!(resp.status().as_u16(), 200, "{path}");
            assert_eq!(resp.headers()["cache-control"], "no-cache");
            assert!(resp.text().await.unwrap().contains("<div id=\"root\">"));
        } else {
            assert_eq!(resp.status().as_u16(), 503, "{path}");
            assert!(
                resp.text()
                    .await
                    .unwrap()
                    .contains("npm --prefix ui run build")
            );
        }
    }
    let post = app.client.post(app.url("/projects")).send().await.unwrap();
    assert_eq!(
        post.status().as_u16(),
        405,
        "pages are read, never posted to"
    );
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year_and_missing_ones_are_not_pages() {
    let app = TestApp::spawn().await;
    let missing = app
        .client
        .get(app.url("/assets/app-missing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    assert_secure(&missing, "/assets/app-missing.js");
    if !is_built() {
        return;
    }
    let index = app
        .client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let script = index
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("index.html loads a script");
    assert!(script.starts_with("/assets/"), "{script}");
    let resp = app.client.get(app.url(script)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        resp.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(
        !index.contains("<script>"),
        "no inline script: the CSP would block it"
    );
}

#[tokio::test]
async fn a_browser_gets_the_bundled_graphiql_and_the_api_paths_keep_their_meaning() {
    let app = TestApp::spawn().await;
    let resp = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_secure(&resp, "/graphql");
    if is_built() {
        assert_eq!(resp.status().as_u16(), 200);
        let page = resp.text().await.unwrap();
        assert!(page.contains("GraphiQL"));
        assert!(
            !page.contains("://"),
            "nothing is loaded from another host: {page}"
        );
    }
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
    let api = app.client.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(
        api.status().as_u16(),
        400,
        "without a browser's Accept, GET /graphql is the API"
    );
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn other_origins_call_the_api_only_when_listed_and_never_with_cookies() {
    let closed = TestApp::spawn().await;
    let resp = preflight(&closed, "https://dash.example.com").await;
    assert!(
        resp.headers().get("access-control-allow-origin").is_none(),
        "no origin is allowed by default"
    );

    let open = TestApp::spawn_with(|c| {
        c.cors_origins = vec!["https://dash.example.com".into()];
    })
    .await;
    let resp = preflight(&open, "https://dash.example.com").await;
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "https://dash.example.com");
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert!(
        h.get("access-control-allow-credentials").is_none(),
        "tokens travel in headers, never cookies"
    );

    let other = preflight(&open, "https://evil.example.com").await;
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let post = open
        .client
        .post(open.url("/graphql"))
        .header("origin", "https://dash.example.com")
        .json(&serde_json::json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        post.headers()["access-control-allow-origin"],
        "https://dash.example.com"
    );
}

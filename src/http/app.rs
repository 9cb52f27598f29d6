//! The web app: its files, embedded at build time from `ui/dist` (see `build.rs`), served
//! for every path no other route claims, with the security headers every page carries.
//! Files under `/assets/` have content hashes in their names and are cached for a year;
//! everything else is revalidated on each load.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::config::{Config, origin};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));
}

/// The headers of every page and file of the app.
#[derive(Clone)]
pub struct AppHeaders {
    csp: HeaderValue,
}

impl AppHeaders {
    pub fn new(config: &Config) -> Self {
        let csp = content_security_policy(config);
        AppHeaders {
            csp: HeaderValue::from_str(&csp).unwrap_or_else(|_| {
                HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'")
            }),
        }
    }
}

/// `default-src 'self'` and nothing inline. Fonts may also be `data:` URLs (GraphiQL's
/// stylesheet embeds its fonts so; a font cannot run code). Uploads go to the object store's public
/// endpoint when artifacts live in S3, so that origin may be connected to as well.
fn content_security_policy(config: &Config) -> String {
    let store = config
        .s3_public_endpoint
        .as_deref()
        .or(config.s3_endpoint.as_deref())
        .filter(|_| config.uses_s3())
        .and_then(origin);
    let connect = match store {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".into(),
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         font-src 'self' data:; connect-src {connect}; worker-src 'self' blob:; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// One embedded file by its path under `ui/dist`.
pub fn file(path: &str) -> Option<&'static [u8]> {
    embedded::FILES
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, bytes)| *bytes)
}

/// Whether the binary was built with the web app.
pub fn is_built() -> bool {
    file("index.html").is_some()
}

/// Serves a hashed asset, or 404: a missing script must not be answered with a page.
pub async fn asset(State(headers): State<AppHeaders>, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    match file(path) {
        Some(bytes) => respond(&headers, path, bytes, "public, max-age=31536000, immutable"),
        None => not_found(&headers),
    }
}

/// Every other path: a top-level file of the app (`/favicon.svg`) or the app itself, whose
/// router shows the page (or its own "not found").
pub async fn page(State(headers): State<AppHeaders>, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let top_level = !path.is_empty() && !path.contains('/') && path != "index.html";
    if let Some(bytes) = file(path).filter(|_| top_level) {
        return respond(&headers, path, bytes, "no-cache");
    }
    html(&headers, "index.html")
}

/// An HTML page of the app (`index.html`, `graphiql.html`), or a page that says how to
/// build the app when this binary was built without it.
pub fn html(headers: &AppHeaders, name: &str) -> Response {
    match file(name) {
        Some(bytes) => respond(headers, name, bytes, "no-cache"),
        None => {
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                "This maestro was built without its web app. Build it with \
                 `npm --prefix ui ci && npm --prefix ui run build`, then build maestro again \
                 (./scripts/serve.sh does both). The API at /graphql works without it.\n",
            )
                .into_response();
            secure(headers, response.headers_mut());
            response
        }
    }
}

fn not_found(headers: &AppHeaders) -> Response {
    let mut response = (StatusCode::NOT_FOUND, "no such file\n").into_response();
    secure(headers, response.headers_mut());
    response
}

fn respond(
    headers: &AppHeaders,
    path: &str,
    bytes: &'static [u8],
    cache: &'static str,
) -> Response {
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    secure(headers, h);
    response
}

/// The security headers of every app response.
fn secure(app: &AppHeaders, h: &mut HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, app.csp.clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_taken_from_urls_and_odd_ones_refused() {
        assert_eq!(
            origin("https://minio.example.com:9000/bucket").as_deref(),
            Some("https://minio.example.com:9000")
        );
        assert_eq!(
            origin("http://[::1]:9000").as_deref(),
            Some("http://[::1]:9000")
        );
        assert_eq!(origin("ftp://x"), None);
        assert_eq!(origin("https://a b;script-src *"), None);
        assert_eq!(origin("no scheme"), None);
    }

    #[test]
    fn types_follow_extensions() {
        assert_eq!(
            content_type("assets/index-abc.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("x.unknown"), "application/octet-stream");
    }
}

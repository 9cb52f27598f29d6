//! Artifacts against a real S3-compatible server (s3s-fs, in process) and against the
//! local-disk backend: the same suite runs on both.

mod common;

use std::time::Duration;

use common::{S3Server, Session, TestApp, error_code, use_s3};
use maestro::config::Config;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Clone, Copy, Debug)]
enum Backend {
    S3,
    Local,
}

/// A running app on one backend, with its S3 server when there is one.
struct Env {
    app: TestApp,
    s3: Option<S3Server>,
}

async fn env(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Env {
    let s3 = match backend {
        Backend::S3 => Some(S3Server::start().await),
        Backend::Local => None,
    };
    let app = TestApp::spawn_with(|c| {
        c.janitor_interval_secs = 1;
        if let Some(s3) = &s3 {
            use_s3(c, s3);
        }
        adjust(c);
    })
    .await;
    Env { app, s3 }
}

struct Fixture {
    session: Session,
    project: String,
    run: String,
    version: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let (_, session) = app.user("artist").await;
    let t = &session.access;
    let project = app.create_project(t, "p").await;
    let experiment = app.create_experiment(t, &project, "e").await;
    let run = app.create_run(t, &experiment, "r").await;
    let model = app.create_model(t, &project, "m").await;
    let version = app.create_version(t, &model, Some(&run)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    Fixture {
        session,
        project,
        run,
        version,
    }
}

const CREATE: &str = "mutation($i: CreateArtifactUploadInput!) { createArtifactUpload(input: $i) {
    artifact { id status path sizeBytes sha256 } uploadUrl uploadHeaders { name value } expiresAt
    multipart { partSize parts { partNumber url headers { name value } } } } }";
const COMPLETE: &str = "mutation($id: ID!, $parts: [CompletedPartInput!]) { completeArtifactUpload(id: $id, parts: $parts) { status sizeBytes sha256 } }";
const DOWNLOAD: &str = "query($id: ID!) { artifact(id: $id) { status downloadUrl } }";

async fn put(app: &TestApp, url: &str, headers: &Value, body: Vec<u8>) -> reqwest::Response {
    let mut req = app.client.put(url).body(body);
    for h in headers.as_array().into_iter().flatten() {
        req = req.header(h["name"].as_str().unwrap(), h["value"].as_str().unwrap());
    }
    req.send().await.unwrap()
}

/// Creates an upload for `bytes` on the run, PUTs them and completes; returns the id.
async fn upload(app: &TestApp, f: &Fixture, path: &str, bytes: &[u8]) -> String {
    let sha = hex::encode(Sha256::digest(bytes));
    let data = app
        .gql(
            Some(&f.session.access),
            CREATE,
            json!({ "i": { "runId": f.run, "path": path, "sizeBytes": bytes.len(), "contentType": "application/x-test", "sha256": sha } }),
        )
        .await;
    let up = &data["createArtifactUpload"];
    assert_eq!(up["artifact"]["status"], "PENDING");
    let resp = put(
        app,
        up["uploadUrl"].as_str().unwrap(),
        &up["uploadHeaders"],
        bytes.to_vec(),
    )
    .await;
    assert!(
        resp.status().is_success(),
        "upload: {} {}",
        resp.status(),
        resp.text().await.unwrap()
    );
    let id = up["artifact"]["id"].as_str().unwrap().to_string();
    let done = app
        .gql(Some(&f.session.access), COMPLETE, json!({ "id": id }))
        .await;
    assert_eq!(done["completeArtifactUpload"]["status"], "AVAILABLE");
    id
}

async fn download_url(app: &TestApp, token: &str, id: &str) -> String {
    let data = app.gql(Some(token), DOWNLOAD, json!({ "id": id })).await;
    data["artifact"]["downloadUrl"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn objects(app: &TestApp, prefix: &str) -> Vec<String> {
    app.state.storage.list(prefix).await.unwrap()
}

/// Waits (bounded) for the janitor to empty a prefix.
async fn wait_until_gone(app: &TestApp, prefix: &str) -> Vec<String> {
    for _ in 0..50 {
        let left = objects(app, prefix).await;
        if left.is_empty() {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    objects(app, prefix).await
}

async fn round_trip_is_byte_exact(backend: Backend) {
    let e = env(backend, |_| {}).await;
    let f = fixture(&e.app).await;
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let id = upload(&e.app, &f, "model/weights.bin", &bytes).await;
    let url = download_url(&e.app, &f.session.access, &id).await;
    let got = e.app.client.get(&url).send().await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), bytes);
    let data = e
        .app
        .gql(
            Some(&f.session.access),
            "query($id: ID!) { run(id: $id) { artifacts { path sizeBytes sha256 status } } }",
            json!({ "id": f.run }),
        )
        .await;
    assert_eq!(data["run"]["artifacts"][0]["path"], "model/weights.bin");
    assert_eq!(
        data["run"]["artifacts"][0]["sha256"],
        hex::encode(Sha256::digest(&bytes))
    );
}

async fn multipart_round_trip(backend: Backend) {
    let e = env(backend, |_| {}).await;
    let f = fixture(&e.app).await;
    let size = 64 * 1024 * 1024 + 1000;
    let bytes: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
    let data = e
        .app
        .gql(
            Some(&f.session.access),
            CREATE,
            json!({ "i": { "modelVersionId": f.version, "path": "big.bin", "sizeBytes": size } }),
        )
        .await;
    let up = &data["createArtifactUpload"];
    assert!(up["uploadUrl"].is_null());
    let part_size = up["multipart"]["partSize"].as_u64().unwrap() as usize;
    let parts = up["multipart"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    let mut done_parts = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let chunk = bytes[i * part_size..((i + 1) * part_size).min(size)].to_vec();
        let resp = put(
            &e.app,
            part["url"].as_str().unwrap(),
            &part["headers"],
            chunk,
        )
        .await;
        assert!(resp.status().is_success(), "part {i}: {}", resp.status());
        let etag = resp.headers()["etag"].to_str().unwrap().to_string();
        done_parts.push(json!({ "partNumber": part["partNumber"], "etag": etag }));
    }
    let id = up["artifact"]["id"].as_str().unwrap().to_string();
    let done = e
        .app
        .gql(
            Some(&f.session.access),
            COMPLETE,
            json!({ "id": id, "parts": done_parts }),
        )
        .await;
    assert_eq!(done["completeArtifactUpload"]["status"], "AVAILABLE");
    let url = download_url(&e.app, &f.session.access, &id).await;
    let got = e
        .app
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.len(), size);
    assert!(got.as_ref() == bytes.as_slice(), "multipart bytes differ");
}

async fn tampered_and_expired_urls_are_refused(backend: Backend) {
    // Two seconds: signatures carry whole seconds, so one could lapse before the first GET.
    let e = env(backend, |c| c.download_url_ttl_secs = 2).await;
    let f = fixture(&e.app).await;
    let id = upload(&e.app, &f, "a.txt", b"hello world").await;
    let url = download_url(&e.app, &f.session.access, &id).await;
    // Change one character of the signature.
    let sig_start = url.find("Signature=").or_else(|| url.find("sig=")).unwrap();
    let pos = url[sig_start..].find('=').unwrap() + sig_start + 1;
    let mut tampered = url.clone().into_bytes();
    tampered[pos] = if tampered[pos] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        e.app
            .client
            .get(&tampered)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        e.app
            .client
            .get(&url)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(
        e.app
            .client
            .get(&url)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403,
        "expired"
    );
}

async fn a_wrong_size_is_refused_at_completion(backend: Backend) {
    let e = env(backend, |_| {}).await;
    let f = fixture(&e.app).await;
    let data = e
        .app
        .gql(
            Some(&f.session.access),
            CREATE,
            json!({ "i": { "runId": f.run, "path": "short.bin", "sizeBytes": 10 } }),
        )
        .await;
    let up = &data["createArtifactUpload"];
    let id = up["artifact"]["id"].as_str().unwrap().to_string();
    // Nothing uploaded yet.
    let (_, body) = e
        .app
        .gql_raw(Some(&f.session.access), COMPLETE, json!({ "id": id }))
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{body}"
    );
    // Five bytes instead of ten: the store refuses them (the size is part of the signature).
    let resp = put(
        &e.app,
        up["uploadUrl"].as_str().unwrap(),
        &up["uploadHeaders"],
        b"12345".to_vec(),
    )
    .await;
    assert!(!resp.status().is_success(), "a short body was accepted");
    let (_, body) = e
        .app
        .gql_raw(Some(&f.session.access), COMPLETE, json!({ "id": id }))
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "{body}"
    );
    let data = e
        .app
        .gql(Some(&f.session.access), DOWNLOAD, json!({ "id": id }))
        .await;
    assert_eq!(data["artifact"]["status"], "PENDING");
    assert!(data["artifact"]["downloadUrl"].is_null());
}

async fn a_checksum_mismatch_is_refused(backend: Backend) {
    let e = env(backend, |_| {}).await;
    let f = fixture(&e.app).await;
    let data = e
        .app
        .gql(
            Some(&f.session.access),
            CREATE,
            json!({ "i": { "runId": f.run, "path": "c.bin", "sizeBytes": 5, "sha256": hex::encode(Sha256::digest(b"other")) } }),
        )
        .await;
    let up = &data["createArtifactUpload"];
    // Stores that check the signed checksum refuse the bytes here; completion refuses
    // them in any case.
    put(
        &e.app,
        up["uploadUrl"].as_str().unwrap(),
        &up["uploadHeaders"],
        b"hello".to_vec(),
    )
    .await;
    let id = up["artifact"]["id"].as_str().unwrap();
    let (_, body) = e
        .app
        .gql_raw(Some(&f.session.access), COMPLETE, json!({ "id": id }))
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("BAD_USER_INPUT"));
}

async fn other_projects_cannot_reach_artifacts(backend: Backend) {
    let e = env(backend, |_| {}).await;
    let f = fixture(&e.app).await;
    let id = upload(&e.app, &f, "secret.bin", b"secret").await;
    let (outsider_email, outsider) = e.app.user("outsider").await;
    let data = e
        .app
        .gql(Some(&outsider.access), DOWNLOAD, json!({ "id": id }))
        .await;
    assert!(data["artifact"].is_null(), "an outsider sees nothing");
    let code = e
        .app
        .gql_err(
            Some(&outsider.access),
            CREATE,
            json!({ "i": { "runId": f.run, "path": "x", "sizeBytes": 1 } }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let code = e
        .app
        .gql_err(
            Some(&outsider.access),
            "mutation($id: ID!) { deleteArtifact(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    // As a viewer: downloads yes, uploads no.
    e.app
        .add_member(&f.session.access, &f.project, &outsider_email, "VIEWER")
        .await;
    assert!(
        download_url(&e.app, &outsider.access, &id)
            .await
            .starts_with("http")
    );
    let code = e
        .app
        .gql_err(
            Some(&outsider.access),
            CREATE,
            json!({ "i": { "runId": f.run, "path": "x", "sizeBytes": 1 } }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
}

async fn deletes_remove_objects(backend: Backend) {
    let e = env(backend, |_| {}).await;
    let f = fixture(&e.app).await;
    let t = &f.session.access;
    let prefix = format!("p/{}/", f.project.replace('-', ""));
    let one = upload(&e.app, &f, "one.bin", b"1").await;
    upload(&e.app, &f, "two.bin", b"22").await;
    assert_eq!(objects(&e.app, &prefix).await.len(), 2);
    e.app
        .gql(
            Some(t),
            "mutation($id: ID!) { deleteArtifact(id: $id) }",
            json!({ "id": one }),
        )
        .await;
    for _ in 0..50 {
        if objects(&e.app, &prefix).await.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        objects(&e.app, &prefix).await.len(),
        1,
        "the deleted artifact's object is gone"
    );
    // Deleting the project cascades to runs, artifacts and their objects.
    e.app
        .gql(
            Some(t),
            "mutation($id: ID!) { deleteProject(id: $id) }",
            json!({ "id": f.project }),
        )
        .await;
    assert_eq!(wait_until_gone(&e.app, &prefix).await, Vec::<String>::new());
}

async fn abandoned_uploads_expire_and_are_cleaned(backend: Backend) {
    let e = env(backend, |c| {
        c.pending_upload_ttl_secs = 1;
        c.upload_url_ttl_secs = 3;
    })
    .await;
    let f = fixture(&e.app).await;
    let data = e
        .app
        .gql(
            Some(&f.session.access),
            CREATE,
            json!({ "i": { "runId": f.run, "path": "left.bin", "sizeBytes": 4 } }),
        )
        .await;
    let up = &data["createArtifactUpload"];
    let resp = put(
        &e.app,
        up["uploadUrl"].as_str().unwrap(),
        &up["uploadHeaders"],
        b"left".to_vec(),
    )
    .await;
    assert!(resp.status().is_success());
    let prefix = format!("p/{}/", f.project.replace('-', ""));
    assert_eq!(objects(&e.app, &prefix).await.len(), 1);
    // Never completed: after its deadline the artifact and its object go.
    assert_eq!(wait_until_gone(&e.app, &prefix).await, Vec::<String>::new());
    let data = e
        .app
        .gql(
            Some(&f.session.access),
            DOWNLOAD,
            json!({ "id": up["artifact"]["id"] }),
        )
        .await;
    assert!(data["artifact"].is_null());
}

async fn paths_are_checked_and_unique(backend: Backend) {
    let e = env(backend, |_| {}).await;
    let f = fixture(&e.app).await;
    for bad in ["../escape", "/abs", "a//b", "dir/"] {
        let (_, body) = e
            .app
            .gql_raw(
                Some(&f.session.access),
                CREATE,
                json!({ "i": { "runId": f.run, "path": bad, "sizeBytes": 1 } }),
            )
            .await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("BAD_USER_INPUT"),
            "{bad}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], "path");
    }
    upload(&e.app, &f, "same.txt", b"x").await;
    let code = e
        .app
        .gql_err(
            Some(&f.session.access),
            CREATE,
            json!({ "i": { "runId": f.run, "path": "same.txt", "sizeBytes": 1 } }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod s3 {
            $(#[tokio::test] async fn $name() { super::$name(super::Backend::S3).await })*
        }
        mod local_disk {
            $(#[tokio::test] async fn $name() { super::$name(super::Backend::Local).await })*
        }
    };
}

on_both_backends!(
    round_trip_is_byte_exact,
    multipart_round_trip,
    tampered_and_expired_urls_are_refused,
    a_wrong_size_is_refused_at_completion,
    a_checksum_mismatch_is_refused,
    other_projects_cannot_reach_artifacts,
    deletes_remove_objects,
    abandoned_uploads_expire_and_are_cleaned,
    paths_are_checked_and_unique,
);

#[tokio::test]
async fn with_the_store_down_artifacts_are_unavailable_and_the_rest_works() {
    let e = env(Backend::S3, |_| {}).await;
    let f = fixture(&e.app).await;
    let id = upload(&e.app, &f, "kept.bin", b"kept").await;
    e.s3.as_ref().unwrap().stop();
    let code = e
        .app
        .gql_err(
            Some(&f.session.access),
            CREATE,
            json!({ "i": { "runId": f.run, "path": "new.bin", "sizeBytes": 1 } }),
        )
        .await;
    assert_eq!(code, "SERVICE_UNAVAILABLE");
    let (_, body) = e
        .app
        .gql_raw(Some(&f.session.access), DOWNLOAD, json!({ "id": id }))
        .await;
    assert_eq!(
        body["data"]["artifact"]["status"], "AVAILABLE",
        "the metadata still reads"
    );
    assert_eq!(
        error_code(&body).as_deref(),
        Some("SERVICE_UNAVAILABLE"),
        "{body}"
    );
    // Everything else keeps working.
    e.app.create_project(&f.session.access, "still works").await;
    let resp = e.app.client.get(e.app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    let ready: Value = resp.json().await.unwrap();
    assert_eq!(ready["checks"]["objectStore"]["status"], "down");
    assert_eq!(ready["checks"]["database"]["status"], "up");
    // Deleting while the store is down queues the object; nothing is lost.
    e.app
        .gql(
            Some(&f.session.access),
            "mutation($id: ID!) { deleteArtifact(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    let pool = sqlx::PgPool::connect(&e.app.database_url).await.unwrap();
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM storage_deletions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(queued, 1);
}

//! Test harness: a real Maestro on port 0, a fresh PostgreSQL database per test, real
//! Redis, and typed helpers that talk HTTP like any client.

#![allow(dead_code)]

pub mod processes;
pub mod ws;

use std::net::{IpAddr, SocketAddr};

use maestro::config::{Config, Environment};
use maestro::startup::Application;
use serde_json::{Value, json};
use uuid::Uuid;

/// The JWT secret of test servers, so tests can forge tokens to prove they are refused.
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
pub const PASSWORD: &str = "correct horse battery staple";
/// `logMetrics` with the run as `$r` and the points as `$m`.
pub const LOG_METRICS: &str =
    "mutation($r: ID!, $m: [MetricInput!]!) { logMetrics(runId: $r, metrics: $m) }";

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: maestro::state::AppState,
    pub client: reqwest::Client,
    pub database_url: String,
    data_dir: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The local-disk store of this test (multipart tests leave 64 MiB there).
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn base_url(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

/// A configuration for one test: its own database and Redis key prefix.
pub fn test_config() -> Config {
    let mut config = Config::from_env_defaults();
    let server = base_url("TEST_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432");
    // The test process's id in the name lets `scripts/test.sh` drop only the databases of
    // runs that are over, never those of a run beside it.
    config.database_url = format!(
        "{server}/maestro_test_{}_{}",
        std::process::id(),
        Uuid::new_v4().simple()
    );
    config.redis_url = Some(base_url("TEST_REDIS_URL", "redis://127.0.0.1:6379"));
    config.redis_prefix = format!("maestro-test:{}:", Uuid::new_v4().simple());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.jwt_secret = Some(JWT_SECRET.to_string().into());
    config.env = Environment::Development;
    config.count_sql = true;
    config.data_dir =
        std::env::temp_dir().join(format!("maestro-test-{}", Uuid::new_v4().simple()));
    config
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let log = if std::env::var_os("TEST_LOG").is_some() {
            "info"
        } else {
            "off"
        };
        let _ = maestro::telemetry::init(false, true, Some(log), None);
        let mut config = test_config();
        adjust(&mut config);
        let database_url = config.database_url.clone();
        let data_dir = config.data_dir.clone();
        let app = Application::build(config).await.expect("the app builds");
        let addr = SocketAddr::from(([127, 0, 0, 1], app.port()));
        let state = app.state().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        TestApp {
            addr,
            state,
            client: reqwest::Client::new(),
            database_url,
            data_dir,
            stop: Some(stop),
        }
    }

    /// A client for another server (a replica process) on `addr`, sharing this one's
    /// database for assertions; it stops nothing when dropped.
    pub fn pointed_at(&self, addr: SocketAddr) -> TestApp {
        TestApp {
            addr,
            state: self.state.clone(),
            client: reqwest::Client::new(),
            database_url: self.database_url.clone(),
            data_dir: std::env::temp_dir().join("maestro-test-none"),
            stop: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs an operation; returns the HTTP status and the JSON body.
    pub async fn gql_raw(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Runs an operation that must succeed; returns `data`.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.gql_raw(token, query, variables).await;
        assert!(
            status == 200 && body.get("errors").is_none(),
            "expected success, got {status}: {body}"
        );
        body["data"].clone()
    }

    /// Runs an operation that must fail; returns the first error's `extensions.code`.
    pub async fn gql_err(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let (_, body) = self.gql_raw(token, query, variables).await;
        error_code(&body).unwrap_or_else(|| panic!("expected an error, got {body}"))
    }

    pub async fn register(&self, email: &str) -> Session {
        let data = self
            .gql(
                None,
                "mutation($i: RegisterInput!) { register(input: $i) { accessToken refreshToken user { id email role } } }",
                json!({ "i": { "email": email, "password": PASSWORD, "name": "Test User" } }),
            )
            .await;
        Session::from_payload(&data["register"])
    }

    /// The server's `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> (u16, Value) {
        self.gql_raw(
            None,
            "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken user { id } } }",
            json!({ "i": { "email": email, "password": password } }),
        )
        .await
    }

    /// Logs in from a given client address (the test server trusts 127.0.0.1 as a proxy).
    pub async fn login_from(&self, addr: IpAddr, email: &str, password: &str) -> Value {
        self.client
            .post(self.url("/graphql"))
            .header("x-forwarded-for", addr.to_string())
            .json(&json!({
                "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
                "variables": { "i": { "email": email, "password": password } },
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// The tokens of a signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user_id: String,
    pub role: String,
}

impl Session {
    pub fn from_payload(p: &Value) -> Self {
        Session {
            access: p["accessToken"].as_str().expect("accessToken").to_string(),
            refresh: p["refreshToken"]
                .as_str()
                .expect("refreshToken")
                .to_string(),
            user_id: p["user"]["id"].as_str().expect("user.id").to_string(),
            role: p["user"]["role"].as_str().unwrap_or("").to_string(),
        }
    }
}

pub fn error_code(body: &Value) -> Option<String> {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_string)
}

pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", Uuid::new_v4().simple())
}

/// Builders for the domain, each one GraphQL call as a client would make it.
impl TestApp {
    pub async fn create_project(&self, token: &str, name: &str) -> String {
        let data = self
            .gql(
                Some(token),
                "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }",
                json!({ "i": { "name": name } }),
            )
            .await;
        data["createProject"]["id"].as_str().unwrap().to_string()
    }

    pub async fn add_member(&self, owner: &str, project: &str, email: &str, role: &str) {
        self.gql(
            Some(owner),
            "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { role } }",
            json!({ "i": { "projectId": project, "email": email, "role": role } }),
        )
        .await;
    }

    pub async fn create_experiment(&self, token: &str, project: &str, name: &str) -> String {
        let data = self
            .gql(
                Some(token),
                "mutation($i: CreateExperimentInput!) { createExperiment(input: $i) { id } }",
                json!({ "i": { "projectId": project, "name": name } }),
            )
            .await;
        data["createExperiment"]["id"].as_str().unwrap().to_string()
    }

    pub async fn create_run(&self, token: &str, experiment: &str, name: &str) -> String {
        let data = self
            .gql(
                Some(token),
                "mutation($i: CreateRunInput!) { createRun(input: $i) { id } }",
                json!({ "i": { "experimentId": experiment, "name": name } }),
            )
            .await;
        data["createRun"]["id"].as_str().unwrap().to_string()
    }

    pub async fn log_metrics(&self, token: &str, run: &str, points: Value) -> i64 {
        let data = self
            .gql(Some(token), LOG_METRICS, json!({ "r": run, "m": points }))
            .await;
        data["logMetrics"].as_i64().unwrap()
    }

    pub async fn create_model(&self, token: &str, project: &str, name: &str) -> String {
        let data = self
            .gql(
                Some(token),
                "mutation($i: CreateModelInput!) { createModel(input: $i) { id } }",
                json!({ "i": { "projectId": project, "name": name } }),
            )
            .await;
        data["createModel"]["id"].as_str().unwrap().to_string()
    }

    pub async fn create_version(&self, token: &str, model: &str, run: Option<&str>) -> Value {
        let data = self
            .gql(
                Some(token),
                "mutation($i: CreateModelVersionInput!) { createModelVersion(input: $i) { id version stage } }",
                json!({ "i": { "modelId": model, "sourceRunId": run } }),
            )
            .await;
        data["createModelVersion"].clone()
    }

    /// A new API token with the READ scope, made with `access`: its secret.
    pub async fn read_token(&self, access: &str) -> String {
        let data = self
            .gql(
                Some(access),
                "mutation { createApiToken(input: { name: \"ci\", scopes: [READ] }) { token } }",
                json!({}),
            )
            .await;
        data["createApiToken"]["token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    /// A user registered with a fresh email: (email, session).
    pub async fn user(&self, tag: &str) -> (String, Session) {
        let email = unique_email(tag);
        let session = self.register(&email).await;
        (email, session)
    }
}

/// A real S3-compatible server (s3s-fs: checks SigV4 signatures and presigned-URL expiry)
/// on a random port, in this process. Dropping it (or `stop`) takes it down, open
/// connections included.
pub struct S3Server {
    pub endpoint: String,
    _root: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

pub const S3_ACCESS_KEY: &str = "maestro-test-access";
pub const S3_SECRET_KEY: &str = "maestro-test-secret-key";

impl S3Server {
    pub async fn start() -> Self {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        let root = tempfile::tempdir().unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(
            S3_ACCESS_KEY,
            S3_SECRET_KEY,
        ));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                connections.spawn(async move {
                    let _ = conn.await;
                });
            }
        });
        S3Server {
            endpoint,
            _root: root,
            task,
        }
    }

    /// Takes the server down: the port closes and open connections drop.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Points a test configuration at an S3 server.
pub fn use_s3(config: &mut Config, s3: &S3Server) {
    config.s3_endpoint = Some(s3.endpoint.clone());
    config.aws_access_key_id = Some(S3_ACCESS_KEY.into());
    config.aws_secret_access_key = Some(S3_SECRET_KEY.to_string().into());
    config.artifact_bucket = "maestro-test".into();
}

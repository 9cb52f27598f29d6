//! Building the application from its configuration, and serving it until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;
use tokio::net::TcpListener;

use crate::auth::credentials::Credentials;
use crate::auth::jwt::JwtKeys;
use crate::auth::{password, secrets};
use crate::cache::Cache;
use crate::config::{Config, MIN_JWT_SECRET_BYTES};
use crate::db::health::DbHealth;
use crate::events::Events;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::storage::local::LocalStore;
use crate::storage::s3::{S3Settings, S3Store};
use crate::storage::{Backend, Storage, janitor};
use crate::{db, graphql, http};

pub struct Application {
    listener: TcpListener,
    port: u16,
    /// Where clients reach this process, e.g. `http://127.0.0.1:8000`.
    base_url: String,
    state: AppState,
}

/// Connects to every dependency (creating the database and running migrations first).
/// `base_url` is where clients reach this process (for local-disk signed URLs).
pub async fn connect(config: Config, base_url: &str) -> anyhow::Result<AppState> {
    config.check_production()?;
    let unreachable = || {
        format!(
            "cannot use PostgreSQL at {}: start it, or set DATABASE_URL to a server this process can reach",
            db::describe_url(&config.database_url)
        )
    };
    db::create_database_if_missing(&config.database_url)
        .await
        .with_context(unreachable)?;
    let pool = db::connect(
        &config.database_url,
        config.db_pool_size,
        Duration::from_secs(config.db_acquire_timeout_secs),
        Some(config.db_statement_timeout_secs)
            .filter(|&secs| secs > 0)
            .map(Duration::from_secs),
    )
    .await
    .with_context(unreachable)?;
    db::migrate(&pool)
        .await
        .context("the database migrations failed")?;
    let cache = Cache::connect(config.redis_url.as_deref(), &config.redis_prefix)?;
    let events = Events::connect(config.redis_url.as_deref(), &config.redis_prefix)?;
    let secret: Vec<u8> = match &config.jwt_secret {
        Some(secret) => {
            if secret.expose_secret().len() < MIN_JWT_SECRET_BYTES {
                tracing::warn!(
                    "MAESTRO_JWT_SECRET is shorter than {MIN_JWT_SECRET_BYTES} bytes: production would refuse it"
                );
            }
            secret.expose_secret().as_bytes().to_vec()
        }
        None => {
            tracing::warn!(
                "MAESTRO_JWT_SECRET is unset: using a random key, so tokens die with this process"
            );
            secrets::random_bytes::<32>().to_vec()
        }
    };
    let jwt = JwtKeys::new(&secret);
    let storage = storage_from(&config, base_url, &secret);
    if let Err(e) = storage.ensure_ready().await {
        // Everything but artifacts works without the store; readiness reports it.
        tracing::warn!(error = %e, backend = storage.backend_name(), "object store not ready");
    }
    Ok(AppState {
        config: Arc::new(config),
        db: pool,
        db_health: DbHealth::default(),
        cache,
        events,
        jwt: Arc::new(jwt),
        credentials: Credentials::default(),
        storage,
        metrics: Metrics::default(),
    })
}

/// S3 when configured, else the local disk with URLs signed by a key derived from the
/// server secret (so they survive restarts when the secret is configured).
fn storage_from(config: &Config, base_url: &str, secret: &[u8]) -> Storage {
    if config.uses_s3() {
        let settings = S3Settings {
            endpoint: config.s3_endpoint.clone(),
            public_endpoint: config.s3_public_endpoint.clone(),
            access_key: config.aws_access_key_id.clone().unwrap_or_default(),
            secret_key: config
                .aws_secret_access_key
                .as_ref()
                .map(|s| s.expose_secret().to_string())
                .unwrap_or_default(),
            region: config.aws_region.clone(),
            bucket: config.artifact_bucket.clone(),
            browser_origins: browser_origins(config, base_url),
        };
        return Storage::new(Backend::S3(S3Store::new(&settings)));
    }
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"maestro local storage URL signing");
    let key = mac.finalize().into_bytes().to_vec();
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| base_url.to_string());
    Storage::new(Backend::Local(LocalStore::new(
        config.data_dir.clone(),
        base,
        key,
    )))
}

/// The origins whose browsers use the object store: the web app's own (its public URL, or
/// the listening address) and the listed front-end apps'.
fn browser_origins(config: &Config, base_url: &str) -> Vec<String> {
    let own = config.public_url.as_deref().unwrap_or(base_url);
    let mut origins: Vec<String> = crate::config::origin(own).into_iter().collect();
    for listed in config.listed_origins() {
        if !origins.iter().any(|o| o == listed) {
            origins.push(listed.to_string());
        }
    }
    origins
}

impl Application {
    /// Binds the listener (port 0 picks a free one) and prepares everything to serve.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen).await.with_context(|| {
            format!(
                "cannot listen on {}: stop the process using it, or set MAESTRO_LISTEN to another address",
                config.listen
            )
        })?;
        let local = listener.local_addr()?;
        let port = local.port();
        let host = if local.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            local.ip().to_string()
        };
        let base_url = if local.is_ipv6() {
            format!("http://[{host}]:{port}")
        } else {
            format!("http://{host}:{port}")
        };
        let state = connect(config, &base_url).await?;
        // Before serving, so the first sign-in is not the slow one and the memory the hash
        // used is already given back when the server says it is ready.
        tokio::task::spawn_blocking(password::warm_up)
            .await
            .context("the password hasher could not start")?;
        Ok(Self {
            listener,
            port,
            base_url,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or Ctrl-C, then stops accepting and finishes in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes (tests pass their own).
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let janitor = janitor::spawn(
            self.state.db.clone(),
            self.state.storage.clone(),
            Duration::from_secs(self.state.config.janitor_interval_secs),
        );
        let db_watch = self
            .state
            .db_health
            .watch(&self.state.config.database_url)?;
        let credential_changes = self.state.credentials.listen(
            &self.state.db,
            &self.state.config.database_url,
            &self.state.db_health,
        );
        let schema = graphql::build_schema(self.state.clone());
        let app = http::router(self.state, schema);
        tracing::info!(
            "serving GraphQL at {}/graphql (GraphiQL in a browser)",
            self.base_url
        );
        let served = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop)
        .await;
        janitor.abort();
        db_watch.abort();
        credential_changes.abort();
        served?;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received: finishing in-flight requests");
}

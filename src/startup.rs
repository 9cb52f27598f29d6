//! Building the application from its configuration, and serving it until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::auth::jwt::JwtKeys;
use crate::auth::{password, secrets};
use crate::cache::Cache;
use crate::config::{Config, MIN_JWT_SECRET_BYTES};
use crate::state::AppState;
use crate::{db, graphql, http};

pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
}

/// Connects to every dependency (creating the database and running migrations first).
pub async fn connect(config: Config) -> anyhow::Result<AppState> {
    config.check_production()?;
    db::create_database_if_missing(&config.database_url).await?;
    let pool = db::connect(&config.database_url).await?;
    db::migrate(&pool).await?;
    let cache = Cache::connect(config.redis_url.as_deref(), &config.redis_prefix).await?;
    let jwt = match &config.jwt_secret {
        Some(secret) => {
            if secret.expose_secret().len() < MIN_JWT_SECRET_BYTES {
                tracing::warn!(
                    "MAESTRO_JWT_SECRET is shorter than {MIN_JWT_SECRET_BYTES} bytes: production would refuse it"
                );
            }
            JwtKeys::new(secret.expose_secret().as_bytes())
        }
        None => {
            tracing::warn!(
                "MAESTRO_JWT_SECRET is unset: using a random key, so tokens die with this process"
            );
            JwtKeys::new(&secrets::random_bytes::<32>())
        }
    };
    Ok(AppState {
        config: Arc::new(config),
        db: pool,
        cache,
        jwt: Arc::new(jwt),
    })
}

impl Application {
    /// Binds the listener (port 0 picks a free one) and prepares everything to serve.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listen = config.listen;
        let state = connect(config).await?;
        let listener = TcpListener::bind(listen).await?;
        let port = listener.local_addr()?.port();
        tokio::task::spawn_blocking(password::warm_up);
        Ok(Self {
            listener,
            port,
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
        let schema = graphql::build_schema(self.state.clone());
        let app = http::router(self.state, schema);
        tracing::info!(port = self.port, "serving");
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop)
        .await?;
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

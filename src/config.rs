//! Typed configuration, read once from the environment (and `.env` when present).
//!
//! Every variable has a default fit for a developer's laptop; `Config::check_production`
//! refuses the unsafe ones when `MAESTRO_ENV=production`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

/// Whether the server runs for a developer or for real users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

/// All settings of one Maestro process.
#[derive(Clone, Debug, clap::Args)]
pub struct Config {
    /// PostgreSQL connection URL; the database is created if missing.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://localhost/maestro"
    )]
    pub database_url: String,

    /// Redis URL; unset means single-instance in-process fallbacks.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key, so several deployments (or tests) can share one Redis.
    #[arg(long, env = "MAESTRO_REDIS_PREFIX", default_value = "maestro:")]
    pub redis_prefix: String,

    /// Address to serve on.
    #[arg(long, env = "MAESTRO_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// HMAC key for access tokens (at least 32 bytes). Development: random per start.
    #[arg(long, env = "MAESTRO_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,

    /// `development` or `production`.
    #[arg(long, env = "MAESTRO_ENV", value_enum, default_value = "development")]
    pub env: Environment,

    /// Whether anyone may register (the first user always may, to become ADMIN).
    #[arg(long, env = "MAESTRO_REGISTRATION_OPEN", default_value_t = true, action = clap::ArgAction::Set)]
    pub registration_open: bool,

    /// Peers whose `X-Forwarded-For` header is trusted to name the client (comma-separated IPs).
    #[arg(long, env = "MAESTRO_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,

    /// Failed logins allowed per account per window.
    #[arg(long, env = "MAESTRO_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 10)]
    pub login_failures_per_account: u32,

    /// Failed logins allowed per client address per window.
    #[arg(
        long,
        env = "MAESTRO_LOGIN_FAILURES_PER_ADDRESS",
        default_value_t = 100
    )]
    pub login_failures_per_address: u32,

    /// Length of the failed-login window, in seconds.
    #[arg(long, env = "MAESTRO_LOGIN_WINDOW_SECS", default_value_t = 900)]
    pub login_window_secs: u64,

    /// Registrations allowed per client address per window; 0 turns the limit off.
    #[arg(long, env = "MAESTRO_REGISTRATIONS_PER_ADDRESS", default_value_t = 0)]
    pub registrations_per_address: u32,

    /// Bucket for artifacts, created if missing.
    #[arg(
        long,
        env = "MAESTRO_ARTIFACT_BUCKET",
        default_value = "maestro-artifacts"
    )]
    pub artifact_bucket: String,

    /// Local artifact store when no S3 endpoint is configured.
    #[arg(long, env = "MAESTRO_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Count the SQL statements of each GraphQL request and report them in the response's
    /// `extensions.sqlStatements` (diagnostics and the N+1 tests; off in production use).
    #[arg(long, env = "MAESTRO_COUNT_SQL", default_value_t = false, action = clap::ArgAction::Set)]
    pub count_sql: bool,

    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "MAESTRO_LOG_JSON", default_value_t = false, action = clap::ArgAction::Set)]
    pub log_json: bool,
}

/// The smallest JWT secret accepted, in bytes (RFC 7518 §3.2 for HS256).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

impl Config {
    /// The documented defaults, ignoring the environment (tests start from these).
    pub fn from_env_defaults() -> Self {
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: Config,
        }
        let cmd = <Wrapper as clap::CommandFactory>::command();
        let cmd = cmd.mut_args(|a| a.env(None::<&str>));
        let matches = cmd
            .try_get_matches_from(["maestro"])
            .expect("defaults parse");
        <Wrapper as clap::FromArgMatches>::from_arg_matches(&matches)
            .expect("defaults parse")
            .config
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }

    /// Refuses settings that are only acceptable on a developer's laptop.
    pub fn check_production(&self) -> anyhow::Result<()> {
        if !self.is_production() {
            return Ok(());
        }
        match &self.jwt_secret {
            None => anyhow::bail!(
                "MAESTRO_JWT_SECRET is required in production: set it to at least {MIN_JWT_SECRET_BYTES} random bytes"
            ),
            Some(s) if s.expose_secret().len() < MIN_JWT_SECRET_BYTES => anyhow::bail!(
                "MAESTRO_JWT_SECRET is too short: use at least {MIN_JWT_SECRET_BYTES} bytes"
            ),
            Some(_) => Ok(()),
        }
    }
}

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

    /// Most PostgreSQL connections this process opens.
    #[arg(long, env = "MAESTRO_DB_POOL_SIZE", default_value_t = 20)]
    pub db_pool_size: u32,

    /// Seconds a request may wait for a database connection before SERVICE_UNAVAILABLE.
    #[arg(long, env = "MAESTRO_DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub db_acquire_timeout_secs: u64,

    /// Seconds one SQL statement may run before PostgreSQL cancels it (the request then
    /// answers SERVICE_UNAVAILABLE); 0 lets statements run unbounded. Migrations and
    /// `maestro seed` are never bounded.
    #[arg(long, env = "MAESTRO_DB_STATEMENT_TIMEOUT_SECS", default_value_t = 30)]
    pub db_statement_timeout_secs: u64,

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

    /// S3 / MinIO endpoint; with it (or AWS credentials) artifacts go to S3.
    #[arg(long, env = "AWS_ENDPOINT_URL_S3")]
    pub s3_endpoint: Option<String>,

    /// Endpoint clients use for presigned URLs, when it differs from `AWS_ENDPOINT_URL_S3`.
    #[arg(long, env = "MAESTRO_S3_PUBLIC_ENDPOINT")]
    pub s3_public_endpoint: Option<String>,

    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub aws_access_key_id: Option<String>,

    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub aws_secret_access_key: Option<SecretString>,

    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub aws_region: String,

    /// Base URL clients reach this server at, for local-disk signed URLs.
    /// Default: `http://` and the listening address.
    #[arg(long, env = "MAESTRO_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Origins of other front-end apps that may call the API from a browser
    /// (comma-separated, e.g. `https://dash.example.com`); none by default.
    #[arg(long, env = "MAESTRO_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Lifetime of upload URLs, in seconds (at most 900).
    #[arg(long, env = "MAESTRO_UPLOAD_URL_TTL_SECS", default_value_t = 900)]
    pub upload_url_ttl_secs: u64,

    /// Lifetime of download URLs, in seconds.
    #[arg(long, env = "MAESTRO_DOWNLOAD_URL_TTL_SECS", default_value_t = 300)]
    pub download_url_ttl_secs: u64,

    /// How long a PENDING artifact may wait for its bytes before it is cleaned up.
    #[arg(
        long,
        env = "MAESTRO_PENDING_UPLOAD_TTL_SECS",
        default_value_t = 86_400
    )]
    pub pending_upload_ttl_secs: u64,

    /// Seconds between storage janitor passes (queued deletions, expired uploads).
    #[arg(long, env = "MAESTRO_JANITOR_INTERVAL_SECS", default_value_t = 10)]
    pub janitor_interval_secs: u64,

    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "MAESTRO_LOG_JSON", default_value_t = false, action = clap::ArgAction::Set)]
    pub log_json: bool,

    /// Export traces over OTLP/HTTP (protobuf) to this collector, e.g.
    /// `http://otel-collector:4318`: a span per HTTP request, per GraphQL operation, per
    /// resolved field and per database call. Unset: no traces leave the process.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otel_endpoint: Option<String>,

    /// The service name the traces carry.
    #[arg(long, env = "OTEL_SERVICE_NAME", default_value = "maestro")]
    pub otel_service_name: String,
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

    /// `MAESTRO_CORS_ORIGINS` as origins are compared: without a trailing slash.
    pub fn listed_origins(&self) -> impl Iterator<Item = &str> {
        self.cors_origins.iter().map(|o| o.trim_end_matches('/'))
    }

    /// Whether artifacts go to S3 (an endpoint or credentials are configured).
    pub fn uses_s3(&self) -> bool {
        self.s3_endpoint.is_some() || self.aws_access_key_id.is_some()
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }

    /// Refuses settings that are only acceptable on a developer's laptop.
    pub fn check_production(&self) -> anyhow::Result<()> {
        for listed in self.listed_origins() {
            if origin(listed).as_deref() != Some(listed) {
                anyhow::bail!(
                    "MAESTRO_CORS_ORIGINS: {listed:?} is not an origin: give scheme, host and port only, e.g. https://dash.example.com"
                );
            }
        }
        if self.upload_url_ttl_secs > 900 || self.upload_url_ttl_secs == 0 {
            anyhow::bail!("MAESTRO_UPLOAD_URL_TTL_SECS must be between 1 and 900");
        }
        if self.uses_s3()
            && (self.aws_access_key_id.is_none() || self.aws_secret_access_key.is_none())
        {
            anyhow::bail!("S3 storage needs both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        }
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

/// `scheme://host[:port]` of an http(s) URL, if it has one and nothing that would break a
/// header it is written into.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    (matches!(scheme, "http" | "https") && ok).then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_must_be_origins() {
        let parse = |origins: &str| {
            let mut config = Config::from_env_defaults();
            config.cors_origins = origins.split(',').map(str::to_string).collect();
            config.check_production()
        };
        assert!(parse("https://dash.example.com,http://localhost:3000").is_ok());
        let err = parse("https://dash.example.com/app")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an origin"), "{err}");
        assert!(parse("*").is_err());
    }
}

//! The one error type of the application and its single conversion into a GraphQL error.
//!
//! Internal causes are logged once, here, inside the request's span (which carries the
//! request id) and never reach the client; the HTTP layer adds the request id to the
//! response so a user can quote it.

use async_graphql::ErrorExtensions;

/// Stable `extensions.code` values: the API contract of the SPEC.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const CONFLICT: &str = "CONFLICT";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Validation { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; retry in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// A cause the client must not see; shared so the error can be cloned.
    #[error("{0}")]
    Internal(std::sync::Arc<anyhow::Error>),
}

pub type AppResult<T> = Result<T, AppError>;

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError::Internal(std::sync::Arc::new(err))
    }
}

impl AppError {
    /// Whether the database connection broke under the statement (`database_fault`): a
    /// read failed this way may be run once more.
    pub fn is_lost_connection(&self) -> bool {
        matches!(self, AppError::Unavailable(message) if message == DATABASE_CONNECTION_LOST)
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found"))
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => code::UNAUTHENTICATED,
            AppError::Forbidden(_) => code::FORBIDDEN,
            AppError::NotFound(_) => code::NOT_FOUND,
            AppError::Validation { .. } => code::BAD_USER_INPUT,
            AppError::Conflict(_) => code::CONFLICT,
            AppError::RateLimited { .. } => code::RATE_LIMITED,
            AppError::Unavailable(_) => code::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => code::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Seconds a client is told to wait before retrying a SERVICE_UNAVAILABLE answer.
pub const RETRY_AFTER_UNAVAILABLE_SECS: u64 = 2;

/// The message of a database error that lost its connection (the server restarted, the
/// network dropped): the HTTP edge runs a read that failed this way once more, on a fresh
/// connection.
pub const DATABASE_CONNECTION_LOST: &str = "the connection to the database was lost; retry shortly";
pub const DATABASE_TIMED_OUT: &str = "the database took too long on this request and stopped it; ask for less (a smaller page, fewer points) or retry later";

/// What a database error says about the database itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseFault {
    /// The connection broke under the statement: retrying on a new one may work at once.
    ConnectionLost,
    /// No connection could be had (down, starting, or every connection busy).
    Unavailable,
    /// The statement ran past `MAESTRO_DB_STATEMENT_TIMEOUT_SECS` and was cancelled.
    TimedOut,
}

/// Whether a database error means the database (or the way to it) is down, rather than
/// that the statement was wrong.
pub fn database_fault(err: &sqlx::Error) -> Option<DatabaseFault> {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => Some(DatabaseFault::ConnectionLost),
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => Some(DatabaseFault::Unavailable),
        // 08: connection exception; 57P01-57P03: the server is shutting down, crashed or
        // starting; 53300: too many connections.
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some(c) if c.starts_with("08") || matches!(c, "57P01" | "57P02") => {
                Some(DatabaseFault::ConnectionLost)
            }
            Some("57P03" | "53300") => Some(DatabaseFault::Unavailable),
            // 57014: query_canceled, which statement_timeout raises.
            Some("57014") => Some(DatabaseFault::TimedOut),
            _ => None,
        },
        _ => None,
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match database_fault(&err) {
            Some(fault) => {
                tracing::error!(error = %err, ?fault, "database unavailable");
                if fault == DatabaseFault::ConnectionLost {
                    crate::db::note_lost_connection();
                }
                AppError::Unavailable(match fault {
                    DatabaseFault::ConnectionLost => DATABASE_CONNECTION_LOST.into(),
                    DatabaseFault::Unavailable => {
                        "the database is unavailable or busy; retry shortly".into()
                    }
                    DatabaseFault::TimedOut => DATABASE_TIMED_OUT.into(),
                })
            }
            None => anyhow::Error::from(err).into(),
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        let message = match &err {
            AppError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                "internal server error".to_string()
            }
            other => other.to_string(),
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", err.code());
            match &err {
                AppError::Validation { field, .. } => ext.set("field", field.as_str()),
                AppError::RateLimited { retry_after_secs } => {
                    ext.set("retryAfter", *retry_after_secs)
                }
                AppError::Unavailable(_) => ext.set("retryAfter", RETRY_AFTER_UNAVAILABLE_SECS),
                _ => {}
            }
        })
    }
}

impl AppError {
    /// The error as one GraphQL error object (`message`, `extensions`), for answers given
    /// before the engine runs: the same `extensions` the engine's errors carry.
    pub fn to_json(&self) -> serde_json::Value {
        let err = async_graphql::Error::from(self.clone());
        let mut server = async_graphql::ServerError::new(err.message, None);
        server.extensions = err.extensions;
        serde_json::to_value(server).unwrap_or_default()
    }
}

/// Maps a unique or foreign-key violation of the named constraint to another error.
pub trait ResultExt<T> {
    fn on_constraint(self, name: &str, map: impl FnOnce() -> AppError) -> AppResult<T>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn on_constraint(self, name: &str, map: impl FnOnce() -> AppError) -> AppResult<T> {
        self.map_err(|err| match &err {
            sqlx::Error::Database(db) if db.constraint() == Some(name) => map(),
            _ => err.into(),
        })
    }
}

//! PostgreSQL access: plain SQL in free functions, one module per domain.

pub mod api_tokens;
pub mod artifacts;
pub mod audit;
pub mod channels;
pub mod experiments;
pub mod health;
pub mod models;
pub mod pool;
pub mod projects;
pub mod runs;
pub mod search;
pub mod sessions;
pub mod system;
pub mod users;

/// An enum value's GraphQL name (`ADMIN`, `RUNNING`), which is also how the
/// `sqlx::Type` derives (`SCREAMING_SNAKE_CASE`) store it.
pub fn enum_name<T: async_graphql::resolver_utils::EnumType>(value: T) -> &'static str {
    T::items()
        .iter()
        .find(|item| item.value == value)
        .map_or("", |item| item.name)
}

/// Free-form string tags of experiments and models, stored as a JSON object.
pub type KeyValues = std::collections::BTreeMap<String, String>;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

pub use pool::{Db, note_lost_connection};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// `host:port/database` of a connection URL, without its credentials, for messages.
pub fn describe_url(url: &str) -> String {
    match PgConnectOptions::from_str(url) {
        Ok(o) => format!(
            "{}:{}/{}",
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or("postgres")
        ),
        Err(_) => "an unparseable DATABASE_URL".into(),
    }
}

/// Creates the database named in `url` when it does not exist yet.
pub async fn create_database_if_missing(url: &str) -> anyhow::Result<()> {
    let options = PgConnectOptions::from_str(url)?;
    let name = options.get_database().unwrap_or("postgres").to_string();
    let mut admin = options.clone().database("postgres").connect().await?;
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS "exists!""#,
        &name,
    )
    .fetch_one(&mut admin)
    .await?;
    if !exists {
        // Identifiers cannot be bound, so this one statement is built at run time (and the
        // macros could not check it anyway: it runs before the schema exists); the name
        // is quoted the way PostgreSQL does.
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
            .execute(&mut admin)
            .await;
        // Another instance may have created it meanwhile (42P04 duplicate_database).
        if let Err(sqlx::Error::Database(e)) = &created {
            if e.code().as_deref() != Some("42P04") {
                created?;
            }
        } else {
            created?;
        }
        tracing::info!(database = %name, "created database");
    }
    admin.close().await?;
    Ok(())
}

/// A pool of at most `size` connections; a request waiting longer than `acquire_timeout`
/// for one answers SERVICE_UNAVAILABLE. Each statement on these connections is cancelled
/// by PostgreSQL after `statement_timeout` (none when `None`): a statement the planner got
/// wrong, or one whose client has gone, cannot hold a connection and a core for long.
///
/// Statements are prepared once per connection and planned once too
/// (`plan_cache_mode = force_generic_plan`). Left to itself, PostgreSQL re-plans a
/// statement whose parameter is an array (`id = ANY($1)`, every batched load) at each
/// execution, because its generic plan looks dearer for the unknown array's length: that
/// planning was most of the database's time in small reads (a model read spent 1.2 ms of
/// PostgreSQL CPU, 0.8 ms without). A generic plan cannot lean on a parameter's value, so
/// keyset conditions are written to stay index ranges whatever the value
/// (`id > coalesce($2, <lowest>)`, never `$2 IS NULL OR id > $2`).
pub async fn connect(
    url: &str,
    size: u32,
    acquire_timeout: Duration,
    statement_timeout: Option<Duration>,
) -> anyhow::Result<Db> {
    let mut options =
        PgConnectOptions::from_str(url)?.options([("plan_cache_mode", "force_generic_plan")]);
    if let Some(limit) = statement_timeout {
        options = options.options([("statement_timeout", format!("{}ms", limit.as_millis()))]);
    }
    Ok(Db::connect(options, size, acquire_timeout).await?)
}

/// Applies the migrations on a connection of their own without the statement timeout
/// (building an index over a large table may take minutes).
pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    let mut conn = db.acquire().await?.detach();
    sqlx::query!("SET statement_timeout = 0")
        .execute(&mut conn)
        .await?;
    MIGRATOR.run(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

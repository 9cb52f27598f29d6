//! PostgreSQL's notification channels (`LISTEN` / `NOTIFY`), as far as statements go.

use crate::db::Db;
use crate::error::AppResult;

/// Sends `payload` on `channel` to every session listening there, when this statement's
/// transaction (its own) commits.
pub async fn notify(db: &Db, channel: &str, payload: &str) -> AppResult<()> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "sent!" FROM (SELECT pg_notify($1, $2)) AS sent"#,
        channel,
        payload,
    )
    .fetch_one(db)
    .await?;
    Ok(())
}

//! The GraphQL API: one schema merged from one module per domain.

pub mod account;
pub mod connection;
pub mod context;
pub mod gate;
pub mod ids;
pub mod limits;
pub mod schema;

pub use schema::{AppSchema, build_schema};

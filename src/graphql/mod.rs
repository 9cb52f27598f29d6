//! The GraphQL API: one schema merged from one module per domain.

pub mod access;
pub mod account;
pub mod admin;
pub mod admission;
pub mod artifact;
pub mod common;
pub mod connection;
pub mod context;
pub mod direct;
pub mod documents;
pub mod experiment;
pub mod gate;
pub mod ids;
pub mod limits;
pub mod live;
pub mod loaders;
pub mod model;
pub mod nesting;
pub mod project;
pub mod run;
pub mod schema;
pub mod storable;

pub use schema::{AppSchema, build_schema};

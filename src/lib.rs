//! Maestro: the GraphQL API server of an ML platform.

pub mod auth;
pub mod cache;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod seed;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod validate;

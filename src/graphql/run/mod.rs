//! Runs: lifecycle, params, tags, metrics, and the runs search.

pub mod mutation;
pub mod query;
pub mod search;
pub mod subscription;
pub mod types;

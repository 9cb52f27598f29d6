//! Experiments: named groups of runs in a project.

pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;

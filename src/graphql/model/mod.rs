//! The model registry: models, versions, stages, aliases and lineage.

pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;

//! Artifacts: presigned uploads (single or multipart) and downloads.

pub mod mutation;
pub mod query;
pub mod types;

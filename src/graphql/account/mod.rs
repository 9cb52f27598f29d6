//! Accounts: users, sessions, passwords and API tokens.

pub mod mutation;
pub mod query;
pub mod types;

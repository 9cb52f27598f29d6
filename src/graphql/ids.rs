//! IDs are UUIDs on the wire (`ID` scalars) and in the database.

use async_graphql::ID;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Parses an `ID` argument; `field` names the argument for the error.
pub fn parse(field: &str, id: &ID) -> AppResult<Uuid> {
    id.parse::<Uuid>()
        .map_err(|_| AppError::validation(field, "not a valid id: ids are UUIDs"))
}

pub fn to_id(id: Uuid) -> ID {
    ID(id.to_string())
}

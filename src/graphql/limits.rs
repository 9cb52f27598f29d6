//! Limits on every operation, in one place so the schema, the docs and the tests agree.

/// Largest request body, in bytes (HTTP 413 beyond).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Deepest nesting of fields (the root fields are depth 1).
pub const MAX_DEPTH: usize = 12;
/// Deepest nesting of fields under `__schema` and `__type`: introspection has a fixed
/// shape, but the standard queries of graphql-js and GraphiQL nest `ofType` past
/// `MAX_DEPTH`.
pub const MAX_INTROSPECTION_DEPTH: usize = 24;
/// Most fields, fragment spreads and inline fragments in a document, counting each
/// fragment at every place it is spread.
pub const MAX_SELECTIONS: usize = 5_000;
/// Highest query complexity (each field counts 1; connection fields multiply their
/// selection by the page size asked for).
pub const MAX_COMPLEXITY: usize = 250_000;
/// Most aliased fields in one document.
pub const MAX_ALIASES: usize = 30;
/// Most directives on one field.
pub const MAX_DIRECTIVES: usize = 10;
/// Deepest nesting of brackets, lists and objects in query text and in JSON, checked by
/// a flat scan before any recursive parser runs.
pub const MAX_NESTING: usize = 64;
/// Deepest recursion of the parser (nested lists, objects, fragments).
pub const MAX_RECURSIVE_DEPTH: usize = 32;
/// Default and largest page size of connections.
pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

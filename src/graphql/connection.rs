//! Relay connections: page arguments, opaque keyset cursors and the `totalCount` field.

use std::borrow::Cow;

use async_graphql::connection::PageInfo;
use async_graphql::resolver_utils::ContainerType;
use async_graphql::{Context, Object, OutputType, TypeName};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::graphql::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

use crate::graphql::access::loader;
use crate::graphql::direct::{Direct, DirectList, Leaves, Part};
use crate::graphql::loaders::{ExperimentCountKey, ModelCountKey, RunCountKey, VersionCountKey};

/// How a connection learns its `totalCount`: known already, or counted on demand (in a
/// batch with its siblings) only when the field is selected.
pub enum TotalCount {
    Known(i64),
    ExperimentsOf(Uuid),
    ModelsOf(Uuid),
    VersionsOf(Uuid),
    RunsOf(RunCountKey),
}

/// What an item's cursor is made of. Kept as it is and encoded only when a client selects
/// the cursor: most pages are read without.
pub enum CursorKey {
    /// An id (projects, experiments, models, users).
    Id(Uuid),
    /// A number (model versions).
    Number(i64),
    /// A metric point: its step and id.
    Point(i64, i64),
    /// A run in a search: its sort value and id.
    Search(crate::db::search::Cursor),
    /// A run in the default order: its creation time and id (the same cursor a search in
    /// that order gives).
    Created(chrono::DateTime<chrono::Utc>, Uuid),
}

impl CursorKey {
    fn encode(&self) -> String {
        let text = match self {
            CursorKey::Id(id) => id.to_string(),
            CursorKey::Number(n) => n.to_string(),
            CursorKey::Point(step, id) => format!("{step}:{id}"),
            CursorKey::Search(cursor) => serde_json::to_string(cursor).unwrap_or_default(),
            CursorKey::Created(at, id) => {
                let cursor = crate::db::search::Cursor {
                    value: serde_json::Value::String(
                        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
                    ),
                    id: *id,
                };
                serde_json::to_string(&cursor).unwrap_or_default()
            }
        };
        encode_cursor(&text)
    }
}

/// One item of a page and where it is, named after its item: `RunEdge` holds a `Run`.
pub struct Edge<T: OutputType> {
    key: CursorKey,
    node: T,
}

impl<T: OutputType> TypeName for Edge<T> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", T::type_name()).into()
    }
}

/// An item of a page and its cursor.
#[Object(name_type, serial)]
impl<T: OutputType + ContainerType + Leaves> Edge<T> {
    /// The item.
    async fn node(&self) -> Direct<&T> {
        Direct(&self.node)
    }

    /// Where the item is in the list: pass it as `after` for the items that follow it.
    async fn cursor(&self) -> String {
        self.key.encode()
    }
}

/// An edge's cursor is a plain value; its node is a part of it.
impl<T: OutputType + Leaves> Leaves for Edge<T> {
    fn leaf(&self, field: &str) -> Option<async_graphql::Value> {
        match field {
            "cursor" => Some(async_graphql::Value::String(self.key.encode())),
            _ => None,
        }
    }

    fn part(&self, field: &str) -> Option<&dyn Part> {
        match field {
            "node" => Some(&self.node),
            _ => None,
        }
    }
}

/// One page of a list (a Relay connection), named after its items: `RunConnection` holds
/// `Run`s.
pub struct Page<T: OutputType> {
    edges: Vec<Edge<T>>,
    has_previous: bool,
    has_next: bool,
    total: TotalCount,
}

impl<T: OutputType> TypeName for Page<T> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", T::type_name()).into()
    }
}

/// One page of a list, in a stable order. Ask for up to 100 items with `first`, then for
/// the next page with `after: pageInfo.endCursor` while `pageInfo.hasNextPage` is true.
#[Object(name_type, serial)]
impl<T: OutputType + ContainerType + Leaves> Page<T> {
    /// Whether pages come before and after this one, and the cursors at its ends.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.has_previous,
            has_next_page: self.has_next,
            start_cursor: self.edges.first().map(|e| e.key.encode()),
            end_cursor: self.edges.last().map(|e| e.key.encode()),
        }
    }

    /// The items of this page, each with its cursor.
    async fn edges(&self) -> DirectList<&Edge<T>> {
        DirectList(self.edges.iter().collect())
    }

    /// The items of this page, without cursors.
    async fn nodes(&self) -> DirectList<&T> {
        DirectList(self.edges.iter().map(|e| &e.node).collect())
    }

    /// How many items match, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> AppResult<i64> {
        let l = loader(ctx);
        Ok(match &self.total {
            TotalCount::Known(n) => *n,
            TotalCount::ExperimentsOf(id) => {
                l.load_one(ExperimentCountKey(*id)).await?.unwrap_or(0)
            }
            TotalCount::ModelsOf(id) => l.load_one(ModelCountKey(*id)).await?.unwrap_or(0),
            TotalCount::VersionsOf(id) => l.load_one(VersionCountKey(*id)).await?.unwrap_or(0),
            TotalCount::RunsOf(key) => l.load_one(key.clone()).await?.unwrap_or(0),
        })
    }
}

/// Whether the client selected `totalCount` (so a top-level count is worth a statement).
pub fn wants_total(ctx: &Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// Checks `first` and returns how many rows to ask for: the page size plus one, to learn
/// whether another page follows.
pub fn page_size(first: Option<i32>) -> AppResult<usize> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if n < 0 => Err(AppError::validation("first", "`first` cannot be negative")),
        Some(n) if n as usize > MAX_PAGE_SIZE => Err(AppError::validation(
            "first",
            format!("`first` is at most {MAX_PAGE_SIZE}; page with `after` for more"),
        )),
        Some(n) => Ok(n as usize),
    }
}

/// An opaque cursor for a key.
pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// The key inside a cursor given back by the client.
pub fn decode_cursor(cursor: &str) -> AppResult<String> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            AppError::validation(
                "after",
                "invalid cursor: pass an `endCursor` or `cursor` you were given",
            )
        })
}

/// A cursor holding an id.
pub fn decode_id_cursor(cursor: Option<&str>) -> AppResult<Option<Uuid>> {
    cursor
        .map(|c| {
            decode_cursor(c)?.parse().map_err(|_| {
                AppError::validation(
                    "after",
                    "invalid cursor: pass an `endCursor` or `cursor` you were given",
                )
            })
        })
        .transpose()
}

/// Builds a page from rows fetched with `limit + 1`, cursors from `key`, items from
/// `node` (which may refuse a row, as the authorized constructors do).
pub fn build_page<R, T>(
    mut rows: Vec<R>,
    limit: usize,
    has_previous: bool,
    total: TotalCount,
    key: impl Fn(&R) -> CursorKey,
    node: impl Fn(R) -> AppResult<T>,
) -> AppResult<Page<T>>
where
    T: OutputType,
{
    let has_next = rows.len() > limit;
    rows.truncate(limit);
    let edges = rows
        .into_iter()
        .map(|r| {
            Ok(Edge {
                key: key(&r),
                node: node(r)?,
            })
        })
        .collect::<AppResult<_>>()?;
    Ok(Page {
        edges,
        has_previous,
        has_next,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_and_caps() {
        assert_eq!(page_size(None).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(Some(100)).unwrap(), 100);
        assert!(page_size(Some(101)).is_err());
        assert!(page_size(Some(-1)).is_err());
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let id = Uuid::now_v7();
        let c = encode_cursor(&id.to_string());
        assert_eq!(decode_id_cursor(Some(&c)).unwrap(), Some(id));
        assert!(decode_id_cursor(Some("%%%")).is_err());
        assert!(decode_id_cursor(Some(&encode_cursor("not-a-uuid"))).is_err());
    }
}

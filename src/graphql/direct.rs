//! Objects resolved directly: field after field, each awaited in place.
//!
//! The engine resolves an object's selection by boxing one future per selected field (a
//! future as large as the object's largest resolver, so each `id` or `name` of a run costs
//! an allocation and a copy of kilobytes) and then awaiting them. `Direct<T>` is the same
//! GraphQL type as `T` (same name, same fields: the schema does not change) whose objects
//! are resolved field after field, in the requested order, through the engine's own
//! `resolve_field`. Lists of `Direct` objects are still resolved together by the engine, so
//! sibling objects still batch their loads.
//!
//! A field that is a plain value of the object (`Leaves`: an id, a name, a time) is read in
//! place, with no future at all; any other field awaits its resolver in a box of its own,
//! so a `Direct` object's future stays small when the engine gathers a list of them.
//!
//! An object held by another (an edge's node, a version's run of the same project) is a
//! `part` of it: when its own selection is all leaves and parts, it is answered in place
//! too. `DirectList` answers a list of such objects item after item with no future per
//! item; over HTTP (`JsonText`) it writes them as JSON text on the spot, so no tree of
//! values is built, written and dropped for them.
//!
//! Only a plain selection is resolved this way: fields without directives, no fragment, no
//! response key twice, and no per-field tracing. Anything else takes the engine's own path,
//! so what an answer holds never depends on the path taken (`tests/responses.rs` compares
//! both for every field of the hot types).

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{ContainerType, resolve_container_serial, resolve_list};
use async_graphql::{
    ContextSelectionSet, ID, OutputType, Positioned, ScalarType, ServerResult, Value,
};
use chrono::{DateTime, Utc};

/// The fields of an object that are plain values of it: no arguments, no context, no
/// failure, no wait. `leaf` answers the value of such a field by its GraphQL name, and
/// `None` for every other field (which its resolver answers). Each arm reads what the
/// field's resolver reads, in one line beside it in the type's module;
/// `tests/responses.rs` holds the two to the same answer for every field of every type
/// that has leaves.
pub trait Leaves {
    fn leaf(&self, _field: &str) -> Option<Value> {
        None
    }

    /// The object a field answers when it is held by this one (an edge's node), so that it
    /// can be answered in place with it (`write_now`); `None` for every other field.
    fn part(&self, _field: &str) -> Option<&dyn Part> {
        None
    }
}

impl<T: Leaves + ?Sized> Leaves for &T {
    fn leaf(&self, field: &str) -> Option<Value> {
        T::leaf(*self, field)
    }

    fn part(&self, field: &str) -> Option<&dyn Part> {
        T::part(*self, field)
    }
}

/// An object with `Leaves` and its GraphQL name (for `__typename`).
pub trait Part: Leaves + Sync {
    fn name(&self) -> Cow<'static, str>;
}

impl<T: Leaves + OutputType> Part for T {
    fn name(&self) -> Cow<'static, str> {
        self.introspection_type_name()
    }
}

/// A plain field's value, as its resolver answers it.
pub fn leaf(value: impl Leaf) -> Option<Value> {
    Some(value.value())
}

/// A value a plain field answers, as the engine writes it.
pub trait Leaf {
    fn value(self) -> Value;
}

impl Leaf for &str {
    fn value(self) -> Value {
        Value::String(self.to_owned())
    }
}

impl Leaf for &[String] {
    fn value(self) -> Value {
        Value::List(self.iter().map(|s| Value::String(s.clone())).collect())
    }
}

impl<T: Leaf> Leaf for Option<T> {
    fn value(self) -> Value {
        self.map_or(Value::Null, Leaf::value)
    }
}

macro_rules! scalar_leaves {
    ($($t:ty),*) => {$(
        impl Leaf for $t {
            fn value(self) -> Value {
                ScalarType::to_value(&self)
            }
        }
    )*};
}
scalar_leaves!(ID, i32, i64, f64, bool, DateTime<Utc>);

/// Enums answer their GraphQL name.
macro_rules! enum_leaves {
    ($($t:ty),*) => {$(
        impl Leaf for $t {
            fn value(self) -> Value {
                async_graphql::InputType::to_value(&self)
            }
        }
    )*};
}
enum_leaves!(
    crate::db::runs::RunStatus,
    crate::db::models::ModelStage,
    crate::db::projects::ProjectRole,
    crate::db::users::UserRole
);

/// `Leaves` of an object over a row with `id`, `name`, `description`, `created_at` and
/// `updated_at` (projects, experiments, models): the same five fields of each.
macro_rules! named_row_leaves {
    ($t:ty) => {
        impl $crate::graphql::direct::Leaves for $t {
            fn leaf(&self, field: &str) -> Option<async_graphql::Value> {
                use $crate::graphql::direct::leaf;
                match field {
                    "id" => leaf($crate::graphql::ids::to_id(self.row.id)),
                    "name" => leaf(self.row.name.as_str()),
                    "description" => leaf(self.row.description.as_deref()),
                    "createdAt" => leaf(self.row.created_at),
                    "updatedAt" => leaf(self.row.updated_at),
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use named_row_leaves;

/// Set in the schema's data when every field is traced (an extension sees each field
/// resolve, which only the engine's own path reports): then objects take that path.
pub struct FieldsTraced;

/// `T` as the same GraphQL type, resolved field after field without a box per field.
pub struct Direct<T>(pub T);

impl<T: OutputType + ContainerType + Leaves> OutputType for Direct<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve(ctx, &self.0).await
    }
}

/// Whether the selection can be resolved directly (see the module's comment).
fn plain(ctx: &ContextSelectionSet<'_>) -> bool {
    ctx.data_opt::<FieldsTraced>().is_none() && plain_items(&ctx.item.node.items)
}

/// Fields only, without directives, each response key once.
fn plain_items(items: &[Positioned<Selection>]) -> bool {
    items.iter().enumerate().all(|(i, selection)| {
        let Selection::Field(field) = &selection.node else {
            return false;
        };
        let key = field.node.response_key().node.as_str();
        field.node.directives.is_empty()
            && !items[..i].iter().any(|earlier| match &earlier.node {
                Selection::Field(f) => f.node.response_key().node.as_str() == key,
                _ => true,
            })
    })
}

/// Resolves `root`'s selection: directly when it is plain, else by the engine's path.
pub async fn resolve<T: ContainerType + Leaves + ?Sized>(
    ctx: &ContextSelectionSet<'_>,
    root: &T,
) -> ServerResult<Value> {
    if !plain(ctx) {
        return resolve_container_serial(ctx, root).await;
    }
    let items = &ctx.item.node.items;
    let mut fields = IndexMap::with_capacity(items.len());
    for selection in items {
        let Selection::Field(field) = &selection.node else {
            unreachable!("a plain selection holds fields only");
        };
        let key = field.node.response_key().node.clone();
        if field.node.name.node == "__typename" {
            let name = root.introspection_type_name().into_owned();
            fields.insert(key, Value::String(name));
            continue;
        }
        if let Some(value) = root.leaf(field.node.name.node.as_str()) {
            fields.insert(key, value);
            continue;
        }
        if let Some(value) = root.part(field.node.name.node.as_str()).and_then(|part| {
            answered_now(ctx, |out| {
                write_now(&field.node.selection_set.node, part, out)
            })
        }) {
            fields.insert(key, value);
            continue;
        }
        // As the engine does: a field that fails is left out and its error recorded.
        let ctx_field = ctx.with_field(field);
        match Box::pin(root.resolve_field(&ctx_field)).await {
            Ok(value) => {
                fields.insert(key, value.unwrap_or_default());
            }
            Err(error) => ctx.add_error(error),
        }
    }
    Ok(if fields.is_empty() {
        Value::Null
    } else {
        Value::Object(fields)
    })
}

/// Set in the data of a request whose answer is written by `write_answer` (HTTP): what is
/// answered at once is then kept in the answer as its JSON text (`Value::Binary`, which no
/// field of the schema answers otherwise, and which `write_answer` copies as it is). No
/// tree of values is built, walked and dropped for it. Without it (WebSocket, whose
/// messages the engine writes), the text is read back into values.
pub struct JsonText;

/// What `write` writes as JSON text, as the answer's value (see `JsonText`); `None` when
/// `write` cannot answer at once.
fn answered_now(
    ctx: &ContextSelectionSet<'_>,
    write: impl FnOnce(&mut Vec<u8>) -> bool,
) -> Option<Value> {
    let mut text = Vec::new();
    if !write(&mut text) {
        return None;
    }
    if ctx.data_opt::<JsonText>().is_some() {
        Some(Value::Binary(text.into()))
    } else {
        serde_json::from_slice(&text).ok()
    }
}

/// `write_now` for each of `items`, as a list; `false` when an item cannot be answered at
/// once.
fn write_list_now<T: Part>(set: &SelectionSet, items: &[T], out: &mut Vec<u8>) -> bool {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if !write_now(set, item, out) {
            return false;
        }
    }
    out.push(b']');
    true
}

/// `root`'s selection answered at once, without a future, as JSON text appended to `out`
/// (each name and leaf value written by serde_json, as the answer's writer writes them):
/// when the selection is plain and each field is `__typename`, a leaf, or a part whose own
/// selection is answered at once. `false` when any field needs its resolver (the caller
/// then takes the other path). The caller checks that fields are not traced.
fn write_now(set: &SelectionSet, root: &dyn Part, out: &mut Vec<u8>) -> bool {
    if !plain_items(&set.items) {
        return false;
    }
    out.push(b'{');
    for (i, selection) in set.items.iter().enumerate() {
        let Selection::Field(field) = &selection.node else {
            return false;
        };
        if i > 0 {
            out.push(b',');
        }
        let name = field.node.name.node.as_str();
        let written = write_json(out, field.node.response_key().node.as_str()) && {
            out.push(b':');
            if name == "__typename" {
                write_json(out, &root.name())
            } else if let Some(value) = root.leaf(name) {
                write_json(out, &value)
            } else {
                root.part(name)
                    .is_some_and(|part| write_now(&field.node.selection_set.node, part, out))
            }
        };
        if !written {
            return false;
        }
    }
    out.push(b'}');
    true
}

fn write_json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) -> bool {
    serde_json::to_writer(out, value).is_ok()
}

/// A list of objects, the same GraphQL type as `Vec<Direct<T>>`. When every item's
/// selection can be answered at once (`write_now`), the items are answered one after the
/// other with no future per item; otherwise the engine resolves them together as `Direct`
/// objects (so siblings still batch their loads).
pub struct DirectList<T>(pub Vec<T>);

impl<T: OutputType + ContainerType + Leaves> OutputType for DirectList<T> {
    fn type_name() -> Cow<'static, str> {
        Vec::<Direct<T>>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<Direct<T>>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Vec::<Direct<T>>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if ctx.data_opt::<FieldsTraced>().is_none()
            && let Some(list) =
                answered_now(ctx, |out| write_list_now(&ctx.item.node, &self.0, out))
        {
            return Ok(list);
        }
        resolve_list(ctx, field, self.0.iter().map(Direct), Some(self.0.len())).await
    }
}

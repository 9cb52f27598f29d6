//! Small types and helpers shared by several domains.

use async_graphql::{Context, InputObject, SimpleObject};
use uuid::Uuid;

use crate::db::KeyValues;
use crate::error::{AppError, AppResult};
use crate::graphql::access::{Readable, loader};
use crate::graphql::account::types::User;
use crate::graphql::loaders::UserKey;
use crate::validate;

/// The user an object of a readable project names (its author, a member), loaded through
/// the request's batch loader.
pub async fn user(ctx: &Context<'_>, seen: Readable, id: Option<Uuid>) -> AppResult<Option<User>> {
    let Some(id) = id else { return Ok(None) };
    Ok(loader(ctx)
        .load_one(UserKey(id))
        .await?
        .map(|row| User::related(row, seen)))
}

/// A tag: a mutable key and value.
#[derive(SimpleObject, Clone, Debug)]
pub struct Tag {
    /// The tag's key, unique on its owner.
    pub key: String,
    /// The tag's value.
    pub value: String,
}

impl crate::graphql::direct::Leaves for Tag {
    fn leaf(&self, field: &str) -> Option<async_graphql::Value> {
        use crate::graphql::direct::leaf;
        match field {
            "key" => leaf(self.key.as_str()),
            "value" => leaf(self.value.as_str()),
            _ => None,
        }
    }
}

/// A tag to set.
#[derive(InputObject, Clone, Debug)]
pub struct TagInput {
    /// 1–250 characters of letters, digits, `_ - . /` and spaces.
    pub key: String,
    /// At most 8,000 characters.
    pub value: String,
}

/// Most tags or params in one call.
pub const MAX_PAIRS_PER_CALL: usize = 100;

/// Checks tags (count, keys, values, no key twice) and returns them as pairs.
pub fn check_tags(field: &str, tags: &[TagInput]) -> AppResult<Vec<(String, String)>> {
    validate::count(field, tags.len(), MAX_PAIRS_PER_CALL)?;
    let mut seen = std::collections::HashSet::new();
    for t in tags {
        validate::key(field, &t.key)?;
        validate::value(field, &t.key, &t.value, validate::MAX_TAG_VALUE_CHARS)?;
        if !seen.insert(t.key.as_str()) {
            return Err(AppError::validation(
                field,
                format!("key `{}` is given twice", t.key),
            ));
        }
    }
    Ok(tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect())
}

/// Tags as stored on experiments and models.
pub fn tag_map(field: &str, tags: &[TagInput]) -> AppResult<KeyValues> {
    Ok(check_tags(field, tags)?.into_iter().collect())
}

pub fn tag_list(tags: &KeyValues) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

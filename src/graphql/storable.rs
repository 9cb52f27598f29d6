//! Text PostgreSQL can store: every string a request carries is checked once, at the edge,
//! so no resolver can hand the database a value it refuses (which would surface as an
//! internal error instead of the caller's mistake).
//!
//! Rust strings are valid UTF-8 already; the one character PostgreSQL's `text` and `jsonb`
//! refuse is NUL (U+0000).

use async_graphql::parser::types::{Directive, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Positioned, Variables};
use async_graphql_value::{ConstValue, Value};

use crate::error::AppError;

/// Refuses a document whose arguments or variables hold a string PostgreSQL cannot store,
/// naming the argument or input field that holds it.
pub fn check(doc: &ExecutableDocument, variables: &Variables) -> Result<(), AppError> {
    for (name, value) in variables.iter() {
        if let Some(field) = in_const(name, value) {
            return Err(refuse(field));
        }
    }
    for (_, op) in doc.operations.iter() {
        for var in &op.node.variable_definitions {
            if let Some(default) = &var.node.default_value
                && let Some(field) = in_const(&var.node.name.node, &default.node)
            {
                return Err(refuse(field));
            }
        }
        in_directives(&op.node.directives)?;
        in_selection_set(&op.node.selection_set.node)?;
    }
    for fragment in doc.fragments.values() {
        in_directives(&fragment.node.directives)?;
        in_selection_set(&fragment.node.selection_set.node)?;
    }
    Ok(())
}

fn refuse(field: &str) -> AppError {
    AppError::validation(
        field,
        format!("`{field}` contains a NUL character (\\u0000), which cannot be stored: remove it"),
    )
}

fn in_selection_set(set: &SelectionSet) -> Result<(), AppError> {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                in_arguments(&f.node.arguments)?;
                in_directives(&f.node.directives)?;
                in_selection_set(&f.node.selection_set.node)?;
            }
            Selection::InlineFragment(frag) => {
                in_directives(&frag.node.directives)?;
                in_selection_set(&frag.node.selection_set.node)?;
            }
            Selection::FragmentSpread(spread) => in_directives(&spread.node.directives)?,
        }
    }
    Ok(())
}

fn in_directives(directives: &[Positioned<Directive>]) -> Result<(), AppError> {
    for d in directives {
        in_arguments(&d.node.arguments)?;
    }
    Ok(())
}

fn in_arguments(arguments: &[(Positioned<Name>, Positioned<Value>)]) -> Result<(), AppError> {
    for (name, value) in arguments {
        if let Some(field) = in_value(&name.node, &value.node) {
            return Err(refuse(field));
        }
    }
    Ok(())
}

/// The name of the innermost argument or input field whose string holds a NUL.
fn in_value<'a>(field: &'a str, value: &'a Value) -> Option<&'a str> {
    match value {
        Value::String(s) if s.contains('\0') => Some(field),
        Value::List(items) => items.iter().find_map(|v| in_value(field, v)),
        Value::Object(fields) => fields
            .iter()
            .find_map(|(k, v)| in_value(k.as_str(), v).or(k.contains('\0').then_some(field))),
        _ => None,
    }
}

fn in_const<'a>(field: &'a str, value: &'a ConstValue) -> Option<&'a str> {
    match value {
        ConstValue::String(s) if s.contains('\0') => Some(field),
        ConstValue::List(items) => items.iter().find_map(|v| in_const(field, v)),
        ConstValue::Object(fields) => fields
            .iter()
            .find_map(|(k, v)| in_const(k.as_str(), v).or(k.contains('\0').then_some(field))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_at_fault(query: &str, variables: serde_json::Value) -> Option<String> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        match check(&doc, &Variables::from_json(variables)) {
            Ok(()) => None,
            Err(AppError::Validation { field, .. }) => Some(field),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn names_the_argument_or_input_field_holding_a_nul() {
        let none = serde_json::json!({});
        assert_eq!(field_at_fault(r#"{ a(x: "ok") }"#, none.clone()), None);
        assert_eq!(
            field_at_fault(r#"{ a(x: "o\u0000k") }"#, none.clone()).as_deref(),
            Some("x")
        );
        assert_eq!(
            field_at_fault(r#"{ a { b(i: {d: ["x", "\u0000"]}) } }"#, none.clone()).as_deref(),
            Some("d")
        );
        assert_eq!(
            field_at_fault(r#"{ ...F } fragment F on Q { a(y: "\u0000") }"#, none).as_deref(),
            Some("y")
        );
        assert_eq!(
            field_at_fault(
                "query($i: I) { a(i: $i) }",
                serde_json::json!({ "i": { "description": "a\u{0}b" } })
            )
            .as_deref(),
            Some("description")
        );
        assert_eq!(
            field_at_fault(
                "query($s: String) { a(s: $s) }",
                serde_json::json!({ "s": "\u{0}" })
            )
            .as_deref(),
            Some("s")
        );
    }
}

//! Text PostgreSQL can store: every string a request carries is checked once, at the edge,
//! so no resolver can hand the database a value it refuses (which would surface as an
//! internal error instead of the caller's mistake).
//!
//! Rust strings are valid UTF-8 already; the one character PostgreSQL's `text` and `jsonb`
//! refuse is NUL (U+0000).

use std::collections::HashMap;

use async_graphql::parser::types::{Directive, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Positioned, Variables};
use async_graphql_value::{ConstValue, Value};

use crate::error::AppError;

/// Refuses a document whose arguments (literal or through variables) hold a string
/// PostgreSQL cannot store, naming the argument or input field that holds it.
pub fn check(doc: &ExecutableDocument, variables: &Variables) -> Result<(), AppError> {
    for (_, op) in doc.operations.iter() {
        // A variable's value is what the request gives, else its default.
        let mut values: HashMap<&str, &ConstValue> = op
            .node
            .variable_definitions
            .iter()
            .filter_map(|v| {
                Some((
                    v.node.name.node.as_str(),
                    &v.node.default_value.as_ref()?.node,
                ))
            })
            .collect();
        for (name, value) in variables.iter() {
            values.insert(name.as_str(), value);
        }
        let scan = Scan { variables: &values };
        scan.directives(&op.node.directives)?;
        scan.selection_set(&op.node.selection_set.node)?;
        for fragment in doc.fragments.values() {
            scan.directives(&fragment.node.directives)?;
            scan.selection_set(&fragment.node.selection_set.node)?;
        }
    }
    Ok(())
}

fn refuse(field: &str) -> AppError {
    AppError::validation(
        field,
        format!("`{field}` contains a NUL character (\\u0000), which cannot be stored: remove it"),
    )
}

struct Scan<'a> {
    variables: &'a HashMap<&'a str, &'a ConstValue>,
}

impl Scan<'_> {
    fn selection_set(&self, set: &SelectionSet) -> Result<(), AppError> {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    self.arguments(&f.node.arguments)?;
                    self.directives(&f.node.directives)?;
                    self.selection_set(&f.node.selection_set.node)?;
                }
                Selection::InlineFragment(frag) => {
                    self.directives(&frag.node.directives)?;
                    self.selection_set(&frag.node.selection_set.node)?;
                }
                Selection::FragmentSpread(spread) => self.directives(&spread.node.directives)?,
            }
        }
        Ok(())
    }

    fn directives(&self, directives: &[Positioned<Directive>]) -> Result<(), AppError> {
        for d in directives {
            self.arguments(&d.node.arguments)?;
        }
        Ok(())
    }

    fn arguments(
        &self,
        arguments: &[(Positioned<Name>, Positioned<Value>)],
    ) -> Result<(), AppError> {
        for (name, value) in arguments {
            if let Some(field) = self.value(&name.node, &value.node) {
                return Err(refuse(field));
            }
        }
        Ok(())
    }

    /// The name of the innermost argument or input field whose string holds a NUL.
    fn value<'v>(&self, field: &'v str, value: &'v Value) -> Option<&'v str>
    where
        Self: 'v,
    {
        match value {
            Value::String(s) if s.contains('\0') => Some(field),
            Value::Variable(name) => {
                let value = self.variables.get(name.as_str())?;
                in_const(field, value)
            }
            Value::List(items) => items.iter().find_map(|v| self.value(field, v)),
            Value::Object(fields) => fields.iter().find_map(|(k, v)| {
                self.value(k.as_str(), v)
                    .or(k.contains('\0').then_some(field))
            }),
            _ => None,
        }
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
            field_at_fault(
                r#"{ ...F } fragment F on Q { a(y: "\u0000") }"#,
                none.clone()
            )
            .as_deref(),
            Some("y")
        );
        assert_eq!(
            field_at_fault(r#"query($s: String = "\u0000") { a(z: $s) }"#, none).as_deref(),
            Some("z"),
            "a default value counts when the variable is not given"
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

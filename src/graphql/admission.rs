//! Admission: the bounds a request must meet before the engine validates or runs it.
//!
//! The engine's own checks (recursion depth, validation rules, complexity) walk every
//! fragment at every place it is spread, without memory of what they already walked: a
//! few hundred bytes of fragments that each spread the next one twice expand to millions
//! of selections and hold a worker for minutes. So every transport calls `admit` first:
//! nesting is bounded by a flat scan before the parser recurses, then the parsed document
//! is measured with each fragment measured once, and only a document whose expansion is
//! small reaches the engine.

use std::collections::HashMap;

use async_graphql::Request;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

use crate::error::AppError;
use crate::graphql::documents::Documents;
use crate::graphql::limits::{
    MAX_DEPTH, MAX_INTROSPECTION_DEPTH, MAX_RECURSIVE_DEPTH, MAX_SELECTIONS,
};
use crate::graphql::nesting;

/// Checks the request's text and variables, parses it (the engine reuses the parse) and
/// checks the document's shape. A document that does not parse is left to the engine,
/// which reports the syntax error. A text admitted before is neither parsed nor measured
/// again: its document comes from `documents`, which keeps each one admitted here.
pub fn admit(request: &mut Request, documents: &Documents) -> Result<(), AppError> {
    let admitted = documents.get(&request.query);
    if admitted.is_none() {
        nesting::check_text("query", &request.query)?;
    }
    nesting::check_variables(&request.variables)?;
    if let Some(doc) = admitted {
        request.set_parsed_query(doc);
        return Ok(());
    }
    let text = request.query.clone();
    match request.parsed_query() {
        Ok(doc) => {
            check_shape(doc)?;
            documents.keep(&text, doc);
            Ok(())
        }
        Err(_) => Ok(()),
    }
}

/// The size of a selection set once every fragment spread in it is expanded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Shape {
    /// Fields, fragment spreads and inline fragments, counting each fragment's content at
    /// every place it is spread (what the engine will walk).
    selections: usize,
    /// Deepest nesting of fields outside introspection (the root fields are depth 1).
    depth: usize,
    /// Deepest nesting of fields under `__schema` or `__type`.
    introspection_depth: usize,
    /// Deepest nesting of selection sets, spreads and inline fragments, as the engine
    /// counts its recursion.
    height: usize,
}

impl Shape {
    fn merge(&mut self, other: Shape) {
        self.selections = self.selections.saturating_add(other.selections);
        self.depth = self.depth.max(other.depth);
        self.introspection_depth = self.introspection_depth.max(other.introspection_depth);
        self.height = self.height.max(other.height);
    }
}

/// Refuses documents that expand too far, nest fields too deep, or recurse too deep.
fn check_shape(doc: &ExecutableDocument) -> Result<(), AppError> {
    let mut measure = Measure {
        doc,
        fragments: HashMap::new(),
    };
    let mut total = Shape::default();
    for (_, op) in doc.operations.iter() {
        total.merge(measure.set(&op.node.selection_set.node, 0)?);
    }
    if total.selections > MAX_SELECTIONS {
        return Err(AppError::validation(
            "query",
            format!(
                "the query selects too much: at most {MAX_SELECTIONS} fields and fragments, counting each fragment every place it is spread"
            ),
        ));
    }
    if total.depth > MAX_DEPTH {
        return Err(AppError::validation(
            "query",
            format!("the query is nested too deep: at most {MAX_DEPTH} levels of fields"),
        ));
    }
    if total.introspection_depth > MAX_INTROSPECTION_DEPTH {
        return Err(AppError::validation(
            "query",
            format!(
                "the introspection query is nested too deep: at most {MAX_INTROSPECTION_DEPTH} levels of fields"
            ),
        ));
    }
    Ok(())
}

fn too_recursive() -> AppError {
    AppError::validation(
        "query",
        format!(
            "the query recurses too deep: at most {MAX_RECURSIVE_DEPTH} nested selections and fragment spreads"
        ),
    )
}

struct Measure<'a> {
    doc: &'a ExecutableDocument,
    /// Each fragment's shape once measured; `None` while it is being measured (a cycle,
    /// which validation refuses later, counts as nothing here).
    fragments: HashMap<&'a str, Option<Shape>>,
}

impl<'a> Measure<'a> {
    /// The shape of a selection set entered at recursion `level`. Recursion is bounded by
    /// `MAX_RECURSIVE_DEPTH` (and the text's nesting by `MAX_NESTING`), so this cannot
    /// run deep on the stack.
    fn set(&mut self, set: &'a SelectionSet, level: usize) -> Result<Shape, AppError> {
        if level > MAX_RECURSIVE_DEPTH {
            return Err(too_recursive());
        }
        let mut shape = Shape::default();
        for item in &set.items {
            let mut inner = match &item.node {
                Selection::Field(field) => {
                    let child = if field.node.selection_set.node.items.is_empty() {
                        Shape::default()
                    } else {
                        self.set(&field.node.selection_set.node, level + 1)?
                    };
                    let below = child.depth.max(child.introspection_depth);
                    let name = field.node.name.node.as_str();
                    let is_introspection = name == "__schema" || name == "__type";
                    Shape {
                        selections: child.selections,
                        depth: if is_introspection { 0 } else { 1 + child.depth },
                        introspection_depth: if is_introspection {
                            1 + below
                        } else {
                            child.introspection_depth
                        },
                        height: child.height,
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.set(&fragment.node.selection_set.node, level + 1)?
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str(), level + 1)?
                }
            };
            inner.selections = inner.selections.saturating_add(1);
            shape.merge(inner);
        }
        shape.height += 1;
        if level + shape.height > MAX_RECURSIVE_DEPTH + 1 {
            return Err(too_recursive());
        }
        Ok(shape)
    }

    fn fragment(&mut self, name: &'a str, level: usize) -> Result<Shape, AppError> {
        match self.fragments.get(name) {
            // Measured before, perhaps at a shallower level.
            Some(Some(shape)) if level + shape.height > MAX_RECURSIVE_DEPTH + 1 => {
                Err(too_recursive())
            }
            Some(Some(shape)) => Ok(*shape),
            Some(None) => Ok(Shape::default()),
            None => {
                let Some(def) = self.doc.fragments.get(name) else {
                    return Ok(Shape::default()); // unknown: validation reports it
                };
                self.fragments.insert(name, None);
                let shape = self.set(&def.node.selection_set.node, level)?;
                self.fragments.insert(name, Some(shape));
                Ok(shape)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape_error(query: &str) -> Option<String> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        check_shape(&doc).err().map(|e| e.to_string())
    }

    #[test]
    fn fragments_spread_twice_at_each_level_are_refused_without_expanding_them() {
        let n = 60;
        let mut query = String::from("{ ...F0 }\n");
        for i in 0..n {
            query.push_str(&format!(
                "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
                i + 1,
                i + 1
            ));
        }
        query.push_str(&format!("fragment F{n} on Query {{ __typename }}\n"));
        // 2^60 selections if expanded; measured once per fragment, refused at once.
        let err = shape_error(&query).unwrap();
        assert!(
            err.contains("recurses too deep") || err.contains("selects too much"),
            "{err}"
        );

        let mut wide = String::from("{ ...F0 }\n");
        for i in 0..12 {
            let spreads = format!("...F{} ", i + 1).repeat(4);
            wide.push_str(&format!("fragment F{i} on Query {{ {spreads} }}\n"));
        }
        wide.push_str("fragment F12 on Query { __typename }\n");
        assert!(shape_error(&wide).unwrap().contains("selects too much"));
    }

    #[test]
    fn depth_counts_fields_through_fragments() {
        let nested = |n: usize| format!("{}x{}", "a { ".repeat(n - 1), " }".repeat(n - 1));
        assert_eq!(shape_error(&format!("{{ {} }}", nested(MAX_DEPTH))), None);
        assert!(
            shape_error(&format!("{{ {} }}", nested(MAX_DEPTH + 1)))
                .unwrap()
                .contains("nested too deep")
        );
        let via_fragment = format!(
            "{{ a {{ ...F }} }} fragment F on A {{ {} }}",
            nested(MAX_DEPTH)
        );
        assert!(
            shape_error(&via_fragment)
                .unwrap()
                .contains("nested too deep")
        );
    }

    #[test]
    fn introspection_has_its_own_depth_limit() {
        let type_ref = format!("{}name{}", "ofType { ".repeat(9), " }".repeat(9));
        let query = format!("{{ __schema {{ types {{ fields {{ type {{ {type_ref} }} }} }} }} }}");
        assert_eq!(shape_error(&query), None);
        let too_deep = format!(
            "{{ __schema {{ types {{ {}name{} }} }} }}",
            "ofType { ".repeat(MAX_INTROSPECTION_DEPTH),
            " }".repeat(MAX_INTROSPECTION_DEPTH)
        );
        assert!(shape_error(&too_deep).unwrap().contains("introspection"));
    }

    #[test]
    fn fragment_cycles_are_left_to_validation() {
        assert_eq!(
            shape_error("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"),
            None
        );
    }
}

//! The deny-by-default gate: looks at the parsed document before validation and
//! execution (so before any argument is parsed or resolver runs) and refuses every root
//! field that is not public when nobody is signed in, mutations from read-only API tokens,
//! documents with too many aliases, and strings PostgreSQL cannot store.
//!
//! It runs at the edge, in `http::graphql::with_caller`, the one way every transport hands
//! a request to the engine, rather than as a schema extension: any extension makes the
//! engine look up and wrap every resolved field, a cost paid for nothing here.

use std::collections::HashSet;

use async_graphql::parser::types::{
    ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use async_graphql::{Pos, Positioned, Request, ServerError, ServerResult, Variables};

use crate::auth::principal::Principal;
use crate::error::AppError;
use crate::graphql::limits::MAX_ALIASES;
use crate::graphql::storable;

/// Root fields anyone may call.
const PUBLIC_MUTATIONS: &[&str] = &["register", "login", "refreshToken"];
const PUBLIC_QUERIES: &[&str] = &["registrationOpen"];
/// Introspection root fields, open to anonymous callers only in development.
const INTROSPECTION: &[&str] = &["__schema", "__type"];

pub struct Gate {
    /// Whether anonymous callers may introspect.
    pub open_introspection: bool,
}

fn refuse(err: AppError, pos: Pos) -> ServerError {
    async_graphql::Error::from(err).into_server_error(pos)
}

impl Gate {
    /// Refuses the request, or lets it through to the engine. A document that does not
    /// parse passes: the engine answers its syntax error, which tells nothing.
    pub fn check(&self, request: &mut Request, principal: Option<&Principal>) -> ServerResult<()> {
        // The document borrows the request; the variables are set aside meanwhile.
        let variables = std::mem::take(&mut request.variables);
        let checked = match request.parsed_query() {
            Ok(doc) => self.check_document(doc, &variables, principal),
            Err(_) => Ok(()),
        };
        request.variables = variables;
        checked
    }

    fn check_document(
        &self,
        doc: &ExecutableDocument,
        variables: &Variables,
        principal: Option<&Principal>,
    ) -> ServerResult<()> {
        check_aliases(doc)?;
        for (_, op) in doc.operations.iter() {
            let ty = op.node.ty;
            for field in root_fields(doc, &op.node.selection_set) {
                let (name, pos) = (field.node.name.node.as_str(), field.pos);
                match principal {
                    None if !self.is_public(ty, name) => {
                        return Err(refuse(
                            AppError::Unauthenticated(format!(
                                "`{name}` needs authentication: send `Authorization: Bearer <access token or API token>` (get one with `login`)"
                            )),
                            pos,
                        ));
                    }
                    Some(p) if ty == OperationType::Mutation && !p.can_write() => {
                        return Err(refuse(
                            AppError::Forbidden(
                                "this API token is read-only: create one with the WRITE scope to run mutations".into(),
                            ),
                            pos,
                        ));
                    }
                    _ => {}
                }
            }
        }
        storable::check(doc, variables).map_err(|e| refuse(e, Pos::default()))?;
        Ok(())
    }

    fn is_public(&self, ty: OperationType, field: &str) -> bool {
        match ty {
            OperationType::Mutation => PUBLIC_MUTATIONS.contains(&field) || field == "__typename",
            OperationType::Query => {
                field == "__typename"
                    || PUBLIC_QUERIES.contains(&field)
                    || (self.open_introspection && INTROSPECTION.contains(&field))
            }
            OperationType::Subscription => false,
        }
    }
}

/// The fields selected at the root of an operation, through fragments (each fragment
/// entered once), in the document's order. The gate checks them; the HTTP edge orders the
/// answer's root by them.
pub fn root_fields<'a>(
    doc: &'a ExecutableDocument,
    set: &'a Positioned<SelectionSet>,
) -> Vec<&'a Positioned<Field>> {
    let mut out = Vec::new();
    let mut seen_fragments = HashSet::new();
    collect_root(doc, set, &mut seen_fragments, &mut out);
    out
}

fn collect_root<'a>(
    doc: &'a ExecutableDocument,
    set: &'a Positioned<SelectionSet>,
    seen_fragments: &mut HashSet<&'a str>,
    out: &mut Vec<&'a Positioned<Field>>,
) {
    for item in &set.node.items {
        match &item.node {
            Selection::Field(f) => out.push(f),
            Selection::InlineFragment(frag) => {
                collect_root(doc, &frag.node.selection_set, seen_fragments, out)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                // Unknown fragments are left to validation; cycles are cut here.
                if seen_fragments.insert(name)
                    && let Some(def) = doc.fragments.get(name)
                {
                    collect_root(doc, &def.node.selection_set, seen_fragments, out);
                }
            }
        }
    }
}

/// Refuses documents with more aliased fields than `MAX_ALIASES` (alias amplification).
fn check_aliases(doc: &ExecutableDocument) -> ServerResult<()> {
    fn count(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => {
                    usize::from(f.node.alias.is_some()) + count(&f.node.selection_set.node)
                }
                Selection::InlineFragment(frag) => count(&frag.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let in_operations: usize = doc
        .operations
        .iter()
        .map(|(_, op)| count(&op.node.selection_set.node))
        .sum();
    let in_fragments: usize = doc
        .fragments
        .values()
        .map(|f| count(&f.node.selection_set.node))
        .sum();
    if in_operations + in_fragments > MAX_ALIASES {
        return Err(refuse(
            AppError::validation(
                "query",
                format!("too many aliases: at most {MAX_ALIASES} per document"),
            ),
            Pos::default(),
        ));
    }
    Ok(())
}

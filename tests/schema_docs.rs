//! Every type, field, argument, input field and enum value in `schema.graphql` says what it
//! is: GraphiQL's docs pane is what API users read.

use async_graphql_parser::types::{InputValueDefinition, TypeKind, TypeSystemDefinition};
use async_graphql_parser::{Positioned, parse_schema};

/// Built-in scalars and directives come with the GraphQL spec, not from us.
const BUILT_IN: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];
const BUILT_IN_DIRECTIVES: [&str; 5] = ["include", "skip", "deprecated", "specifiedBy", "oneOf"];

fn missing(description: &Option<Positioned<String>>) -> bool {
    description
        .as_ref()
        .is_none_or(|d| d.node.trim().is_empty())
}

fn check_inputs(owner: &str, inputs: &[Positioned<InputValueDefinition>], out: &mut Vec<String>) {
    for input in inputs {
        if missing(&input.node.description) {
            out.push(format!("{owner}({})", input.node.name.node));
        }
    }
}

/// The elements of the committed schema that have no description.
fn undocumented() -> Vec<String> {
    let sdl = maestro::graphql::schema::sdl();
    let document = parse_schema(&sdl).expect("the built schema parses");
    let mut out = Vec::new();
    for definition in document.definitions {
        match definition {
            TypeSystemDefinition::Type(t) => {
                let t = t.node;
                let name = t.name.node.to_string();
                if BUILT_IN.contains(&name.as_str()) {
                    continue;
                }
                if missing(&t.description) {
                    out.push(name.clone());
                }
                match t.kind {
                    TypeKind::Object(o) => {
                        for f in o.fields {
                            let field = format!("{name}.{}", f.node.name.node);
                            if missing(&f.node.description) {
                                out.push(field.clone());
                            }
                            check_inputs(&field, &f.node.arguments, &mut out);
                        }
                    }
                    TypeKind::Interface(i) => {
                        for f in i.fields {
                            let field = format!("{name}.{}", f.node.name.node);
                            if missing(&f.node.description) {
                                out.push(field.clone());
                            }
                            check_inputs(&field, &f.node.arguments, &mut out);
                        }
                    }
                    TypeKind::InputObject(i) => check_inputs(&name, &i.fields, &mut out),
                    TypeKind::Enum(e) => {
                        for v in e.values {
                            if missing(&v.node.description) {
                                out.push(format!("{name}.{}", v.node.value.node));
                            }
                        }
                    }
                    TypeKind::Scalar | TypeKind::Union(_) => {}
                }
            }
            TypeSystemDefinition::Directive(d) => {
                let d = d.node;
                if BUILT_IN_DIRECTIVES.contains(&d.name.node.as_str()) {
                    continue;
                }
                let name = format!("@{}", d.name.node);
                if missing(&d.description) {
                    out.push(name.clone());
                }
                check_inputs(&name, &d.arguments, &mut out);
            }
            TypeSystemDefinition::Schema(_) => {}
        }
    }
    out
}

#[test]
fn every_schema_element_has_a_description() {
    let missing = undocumented();
    assert!(
        missing.is_empty(),
        "{} schema elements have no description (add a doc comment where they are defined):\n{}",
        missing.len(),
        missing.join("\n")
    );
}

#[test]
fn the_check_sees_an_undocumented_element() {
    // The check itself can fail: a type without a description is reported.
    let document = parse_schema("type Bare { field: Int }").unwrap();
    let TypeSystemDefinition::Type(t) = &document.definitions[0] else {
        panic!("a type definition");
    };
    assert!(missing(&t.node.description));
}

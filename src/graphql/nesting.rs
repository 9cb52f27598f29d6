//! Bounds on nesting, checked by a flat scan before anything recursive sees the input.
//!
//! The GraphQL parser, JSON decoding and input coercion all recurse once per level of
//! nesting, so a few kilobytes of `[[[[…` or `{a: {a: …}}` would overflow the stack of the
//! thread parsing them and abort the whole process. This scan is a loop, costs one pass
//! over the bytes, and refuses such input before any of those run.

use async_graphql::Variables;
use async_graphql_value::ConstValue;

use crate::error::AppError;
use crate::graphql::limits::MAX_NESTING;

/// Refuses GraphQL text (or JSON, which lexes the same way for this purpose) nested
/// deeper than `MAX_NESTING` brackets. `field` names the input in the error.
pub fn check_text(field: &str, text: &str) -> Result<(), AppError> {
    if exceeds(text.as_bytes(), MAX_NESTING) {
        return Err(too_deep(field));
    }
    Ok(())
}

/// Refuses variables nested deeper than `MAX_NESTING`. They were decoded by a parser with
/// its own recursion limit (serde_json's 128), so walking them here is bounded too.
pub fn check_variables(variables: &Variables) -> Result<(), AppError> {
    fn depth(value: &ConstValue) -> usize {
        match value {
            ConstValue::List(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            ConstValue::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    // The variables object itself is one level, as `{` is in the text.
    let deepest = 1 + variables.values().map(depth).max().unwrap_or(0);
    if deepest > MAX_NESTING {
        return Err(too_deep("variables"));
    }
    Ok(())
}

fn too_deep(field: &str) -> AppError {
    AppError::validation(
        field,
        format!(
            "`{field}` is nested too deeply: at most {MAX_NESTING} levels of brackets, lists and objects"
        ),
    )
}

/// Whether brackets (`{`, `[`, `(`) outside strings and comments nest deeper than `limit`.
///
/// Strings follow GraphQL's lexical rules, which also cover JSON: `"…"` with backslash
/// escapes, `"""…"""` block strings (where `\"""` is escaped), and `#` comments to the end
/// of the line. Where this scan and a parser could disagree (an unterminated string, say),
/// the parser fails at that point without recursing into what follows.
pub fn exceeds(bytes: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 3;
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n' | b'\r') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' => {
                while i < bytes.len() && !matches!(bytes[i], b'\n' | b'\r') {
                    i += 1;
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, n: usize) -> String {
        format!("{}{}", open.repeat(n), close.repeat(n))
    }

    #[test]
    fn counts_every_kind_of_bracket() {
        assert!(!exceeds(nested("[", "]", 64).as_bytes(), 64));
        assert!(exceeds(nested("[", "]", 65).as_bytes(), 64));
        assert!(exceeds(nested("{a:", "}", 65).as_bytes(), 64));
        assert!(exceeds(nested("(", ")", 65).as_bytes(), 64));
        assert!(exceeds(nested("{[(", ")]}", 22).as_bytes(), 64));
    }

    #[test]
    fn brackets_inside_strings_and_comments_do_not_count() {
        let deep = "[".repeat(100);
        assert!(!exceeds(format!("{{ a(x: \"{deep}\") }}").as_bytes(), 4));
        assert!(!exceeds(
            format!("{{ a(x: \"\"\"{deep}\"\"\") }}").as_bytes(),
            4
        ));
        assert!(!exceeds(format!("# {deep}\n{{ a }}").as_bytes(), 4));
        assert!(!exceeds(format!(r#"{{"q": "\"{deep}"}}"#).as_bytes(), 4));
        assert!(!exceeds(
            format!(r#"{{ a(x: """\"""{deep}""") }}"#).as_bytes(),
            4
        ));
    }

    #[test]
    fn nesting_after_a_string_or_comment_still_counts() {
        let deep = nested("[", "]", 10);
        assert!(exceeds(format!("\"x\" {deep}").as_bytes(), 4));
        assert!(exceeds(format!("\"\"\"x\"\"\" {deep}").as_bytes(), 4));
        assert!(exceeds(format!("# x\n{deep}").as_bytes(), 4));
        // A single-line string ends at the line's end, as the GraphQL lexer has it.
        assert!(exceeds(format!("\"x\n{deep}").as_bytes(), 4));
    }

    #[test]
    fn variables_deeper_than_the_limit_are_refused() {
        let json = |n| {
            let v: serde_json::Value =
                serde_json::from_str(&format!("{{\"v\": {}}}", nested("[", "]", n))).unwrap();
            Variables::from_json(v)
        };
        assert!(check_variables(&json(MAX_NESTING - 1)).is_ok());
        let err = check_variables(&json(MAX_NESTING)).unwrap_err();
        assert_eq!(err.code(), "BAD_USER_INPUT");
    }
}

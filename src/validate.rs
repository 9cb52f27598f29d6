//! Input rules shared by the API: each returns BAD_USER_INPUT naming the field at fault.

use crate::error::{AppError, AppResult};

pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

/// Trims and lower-cases an email and checks its shape (one `@`, a dotted domain, no
/// spaces or control characters).
pub fn email(field: &str, raw: &str) -> AppResult<String> {
    let email = raw.trim().to_lowercase();
    let bad = || AppError::validation(field, "enter a valid email address, like name@example.com");
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(AppError::validation(
            field,
            format!("email is too long: at most {MAX_EMAIL_CHARS} characters"),
        ));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !domain.contains("..");
    if local.is_empty() || !domain_ok {
        return Err(bad());
    }
    Ok(email)
}

/// A display name: trimmed, non-empty, bounded, no control characters.
pub fn name(field: &str, raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(AppError::validation(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::validation(
            field,
            format!("too long: at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::validation(
            field,
            "must not contain control characters",
        ));
    }
    Ok(name.to_string())
}

/// A free-text description: bounded; `None` stays `None`.
pub fn description(field: &str, raw: Option<&str>) -> AppResult<Option<String>> {
    match raw {
        Some(d) if d.chars().count() > MAX_DESCRIPTION_CHARS => Err(AppError::validation(
            field,
            format!("too long: at most {MAX_DESCRIPTION_CHARS} characters"),
        )),
        other => Ok(other.map(str::to_string)),
    }
}

/// Longest key of a param, tag or metric (as MLflow).
pub const MAX_KEY_CHARS: usize = 250;
/// Longest param value (as MLflow).
pub const MAX_PARAM_VALUE_CHARS: usize = 6000;
/// Longest tag value (as MLflow).
pub const MAX_TAG_VALUE_CHARS: usize = 8000;

/// A param, tag or metric key: 1 to 250 characters of letters, digits, `_`, `-`, `.`,
/// ` ` and `/` (MLflow's rule), not `..`-relative.
pub fn key(field: &str, raw: &str) -> AppResult<()> {
    let n = raw.chars().count();
    if n == 0 || n > MAX_KEY_CHARS {
        return Err(AppError::validation(
            field,
            format!(
                "key `{}` must be 1 to {MAX_KEY_CHARS} characters",
                truncate(raw)
            ),
        ));
    }
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/');
    if !raw.chars().all(allowed) {
        return Err(AppError::validation(
            field,
            format!(
                "key `{}` may only contain letters, digits, `_`, `-`, `.`, spaces and `/`",
                truncate(raw)
            ),
        ));
    }
    Ok(())
}

/// A value no longer than `max` characters.
pub fn value(field: &str, key: &str, raw: &str, max: usize) -> AppResult<()> {
    if raw.chars().count() > max {
        return Err(AppError::validation(
            field,
            format!(
                "the value of `{}` is longer than {max} characters",
                truncate(key)
            ),
        ));
    }
    Ok(())
}

/// At most `max` items in one call.
pub fn count(field: &str, n: usize, max: usize) -> AppResult<()> {
    if n > max {
        return Err(AppError::validation(
            field,
            format!("at most {max} per call; got {n}: split the batch"),
        ));
    }
    Ok(())
}

/// Longest artifact path, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;

/// An artifact path: relative (`model/weights.bin`), normalized (no empty, `.` or `..`
/// segments), no leading or trailing `/`, no backslashes or control characters, at most
/// 1024 bytes with segments of at most 255.
pub fn artifact_path(field: &str, raw: &str) -> AppResult<()> {
    let bad = |why: &str| Err(AppError::validation(field, format!("invalid path: {why}")));
    if raw.is_empty() || raw.len() > MAX_PATH_BYTES {
        return bad("1 to 1024 bytes");
    }
    if raw.starts_with('/') || raw.ends_with('/') {
        return bad("use a relative path without a leading or trailing `/`");
    }
    if raw.chars().any(|c| c.is_control() || c == '\\') {
        return bad("no control characters or backslashes");
    }
    for segment in raw.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return bad("no empty, `.` or `..` segments");
        }
        if segment.len() > 255 {
            return bad("each segment at most 255 bytes");
        }
    }
    Ok(())
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized() {
        assert_eq!(
            email("email", "  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "a@b@c.com",
            "ada@.com",
        ] {
            assert!(email("email", bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn keys_follow_mlflow_rules() {
        assert!(key("k", "train/loss-1.5 a_b").is_ok());
        assert!(key("k", "").is_err());
        assert!(key("k", "a;b").is_err());
        assert!(key("k", &"k".repeat(MAX_KEY_CHARS)).is_ok());
        assert!(key("k", &"k".repeat(MAX_KEY_CHARS + 1)).is_err());
    }

    #[test]
    fn artifact_paths_are_relative_and_normalized() {
        for ok in ["model.bin", "checkpoints/epoch-1/weights.pt", "a b/c.d"] {
            assert!(artifact_path("path", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../up",
            "a/../b",
            "a//b",
            "a/./b",
            "dir/",
            "a\\b",
            "a\u{0}b",
        ] {
            assert!(artifact_path("path", bad).is_err(), "{bad:?}");
        }
        assert!(artifact_path("path", &"x".repeat(MAX_PATH_BYTES + 1)).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("name", "  Ada ").unwrap(), "Ada");
        assert!(name("name", "   ").is_err());
        assert!(name("name", &"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(name("name", "a\u{0}b").is_err());
    }
}

//! Documents already admitted, by their text: clients send the same few operations again
//! and again, and copying a parsed document costs a fraction of parsing it (the parser
//! walks the text character by character through its grammar).
//!
//! Only documents that parsed and met the admission bounds are kept, so a hit needs neither
//! check again (both depend on the text alone; variables are checked on every request).
//! The cache is bounded in entries, in the length of each text it keeps and in the sum of
//! those lengths (a parsed document is several times the size of its text, so the sum is
//! what bounds the memory a client sending many large distinct texts can make it hold);
//! when full, it starts over (a client sending a new text each time costs its
//! own parse, as without the cache).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;

/// Documents kept at most.
pub const MAX_DOCUMENTS: usize = 512;
/// Longest text kept (longer ones are parsed each time).
pub const MAX_KEPT_TEXT: usize = 16 * 1024;
/// Most bytes of text kept, all documents together.
pub const MAX_KEPT_BYTES: usize = 256 * 1024;

#[derive(Default)]
pub struct Documents {
    admitted: Mutex<Admitted>,
}

#[derive(Default)]
struct Admitted {
    by_text: HashMap<String, Arc<ExecutableDocument>>,
    /// The sum of the kept texts' lengths.
    bytes: usize,
}

impl Documents {
    /// A copy of the document admitted for `text`, if any (made after the lock is let go,
    /// so requests on other workers do not wait on the copy).
    pub fn get(&self, text: &str) -> Option<ExecutableDocument> {
        let doc = self
            .admitted
            .lock()
            .expect("documents lock")
            .by_text
            .get(text)
            .cloned()?;
        Some(ExecutableDocument::clone(&doc))
    }

    /// Keeps an admitted document for the next request with the same text.
    pub fn keep(&self, text: &str, doc: &ExecutableDocument) {
        if text.len() > MAX_KEPT_TEXT {
            return;
        }
        let mut admitted = self.admitted.lock().expect("documents lock");
        if admitted.by_text.contains_key(text) {
            return;
        }
        if admitted.by_text.len() >= MAX_DOCUMENTS || admitted.bytes + text.len() > MAX_KEPT_BYTES {
            *admitted = Admitted::default();
        }
        admitted.bytes += text.len();
        admitted
            .by_text
            .insert(text.to_string(), Arc::new(doc.clone()));
    }

    /// Documents kept now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.admitted.lock().expect("documents lock").by_text.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(text).unwrap()
    }

    #[test]
    fn a_kept_document_comes_back_for_the_same_text_only() {
        let documents = Documents::default();
        let text = "{ me { id } }";
        documents.keep(text, &parsed(text));
        assert!(documents.get(text).is_some());
        assert!(documents.get("{ me { id name } }").is_none());
    }

    #[test]
    fn the_cache_is_bounded_in_entries_and_text_length() {
        let documents = Documents::default();
        for i in 0..MAX_DOCUMENTS {
            let text = format!("{{ f{i} }}");
            documents.keep(&text, &parsed(&text));
        }
        assert_eq!(documents.len(), MAX_DOCUMENTS);
        documents.keep("{ one_more }", &parsed("{ one_more }"));
        assert_eq!(documents.len(), 1, "a full cache starts over");

        let long = format!("{{ f{} }}", " ".repeat(MAX_KEPT_TEXT));
        documents.keep(&long, &parsed(&long));
        assert!(documents.get(&long).is_none(), "long texts are not kept");
    }

    #[test]
    fn the_cache_is_bounded_in_bytes_of_text() {
        let documents = Documents::default();
        let text_of = |i: usize| format!("{{ f{i:05}{} }}", " ".repeat(MAX_KEPT_TEXT - 16));
        let fit = MAX_KEPT_BYTES / text_of(0).len();
        for i in 0..fit {
            documents.keep(&text_of(i), &parsed(&text_of(i)));
        }
        assert_eq!(documents.len(), fit);
        documents.keep(&text_of(fit), &parsed(&text_of(fit)));
        assert_eq!(documents.len(), 1, "past the byte budget it starts over");
        assert!(documents.get(&text_of(fit)).is_some());
    }
}

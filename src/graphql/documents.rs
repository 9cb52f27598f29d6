//! Documents already admitted, by their text: clients send the same few operations again
//! and again, and copying a parsed document costs a fraction of parsing it (the parser
//! walks the text character by character through its grammar).
//!
//! Only documents that parsed and met the admission bounds are kept, so a hit needs neither
//! check again (both depend on the text alone; variables are checked on every request).
//! The cache is bounded in entries and in the length of each text it keeps; when full, it
//! starts over (a client sending a new text each time costs its own parse, as without it).

use std::collections::HashMap;
use std::sync::Mutex;

use async_graphql::parser::types::ExecutableDocument;

/// Documents kept at most.
pub const MAX_DOCUMENTS: usize = 512;
/// Longest text kept (longer ones are parsed each time).
pub const MAX_KEPT_TEXT: usize = 16 * 1024;

#[derive(Default)]
pub struct Documents {
    admitted: Mutex<HashMap<String, ExecutableDocument>>,
}

impl Documents {
    /// A copy of the document admitted for `text`, if any.
    pub fn get(&self, text: &str) -> Option<ExecutableDocument> {
        self.admitted
            .lock()
            .expect("documents lock")
            .get(text)
            .cloned()
    }

    /// Keeps an admitted document for the next request with the same text.
    pub fn keep(&self, text: &str, doc: &ExecutableDocument) {
        if text.len() > MAX_KEPT_TEXT {
            return;
        }
        let mut admitted = self.admitted.lock().expect("documents lock");
        if admitted.len() >= MAX_DOCUMENTS {
            admitted.clear();
        }
        admitted.insert(text.to_string(), doc.clone());
    }

    /// Documents kept now.
    pub fn len(&self) -> usize {
        self.admitted.lock().expect("documents lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
}

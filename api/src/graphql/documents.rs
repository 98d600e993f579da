//! Parsed documents, kept per query text: frontends send the same few texts again and again.
//!
//! The store is bounded in (estimated) bytes and forgets the least recently used text first. It
//! keeps only documents that parsed; a text that does not parse is parsed, and refused, every
//! time. It saves parsing and nothing else: async-graphql validates every request (variables and
//! the operation name differ from one request to the next), and the depth and complexity limits
//! are part of validation, so they apply to every request. Automatic persisted queries will
//! store their documents here too, keyed by the hash of the same text.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_graphql::{
    Request,
    parser::types::{ExecutableDocument, OperationType},
};
use lru::LruCache;

use super::json::ListsAsJson;

/// What is known of a query text once it parsed.
pub struct Document {
    /// The parsed document; each request executes a copy.
    parsed: ExecutableDocument,
    /// Whether its lists may be written as JSON ([`ListsAsJson::allowed`]).
    lists_as_json: bool,
}

/// The bytes a stored document is counted for: its text, and the parsed tree, which holds a node
/// with a position for each token. Measured on this schema's queries, a tree takes 30 to 70 times
/// its text plus about 1 KiB; it is counted as 64 times plus 1 KiB, so the bound holds. A store of
/// 4 MiB keeps about 600 texts of 100 characters.
fn weight(text: &str) -> usize {
    text.len().saturating_mul(65).saturating_add(1024)
}

/// Documents by query text, at most `max_bytes` of them ([`weight`]).
pub struct Documents {
    max_bytes: usize,
    stored: Mutex<Stored>,
}

struct Stored {
    documents: LruCache<Arc<str>, Arc<Document>>,
    bytes: usize,
}

impl Documents {
    /// An empty store of at most `max_bytes`; 0 keeps nothing.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            stored: Mutex::new(Stored {
                documents: LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }

    /// `request` with its document: the stored one for its text, or parsed now (and stored, if
    /// it parsed and fits).
    pub fn prepare(&self, mut request: Request) -> Prepared {
        let found = self
            .lock()
            .documents
            .get(request.query.as_str())
            .map(Arc::clone);
        let document = match found {
            Some(document) => {
                request.set_parsed_query(document.parsed.clone());
                Some(document)
            }
            None => match request.parsed_query() {
                Ok(parsed) => {
                    let document = Arc::new(Document {
                        lists_as_json: ListsAsJson::allowed(parsed),
                        parsed: parsed.clone(),
                    });
                    self.store(&request.query, &document);
                    Some(document)
                }
                // Parsed again, and refused, when executed.
                Err(_) => None,
            },
        };
        Prepared { request, document }
    }

    fn store(&self, text: &str, document: &Arc<Document>) {
        let bytes = weight(text);
        if bytes > self.max_bytes {
            return;
        }
        let mut stored = self.lock();
        if stored
            .documents
            .put(text.into(), Arc::clone(document))
            .is_some()
        {
            // Another request stored the same text meanwhile.
            return;
        }
        stored.bytes += bytes;
        while stored.bytes > self.max_bytes {
            let Some((text, _)) = stored.documents.pop_lru() else {
                break;
            };
            stored.bytes -= weight(&text);
        }
    }

    /// How many documents are stored, and the bytes they are counted for.
    #[cfg(test)]
    fn size(&self) -> (usize, usize) {
        let stored = self.lock();
        (stored.documents.len(), stored.bytes)
    }

    fn lock(&self) -> MutexGuard<'_, Stored> {
        self.stored.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request and its document, ready to execute.
pub struct Prepared {
    pub(super) request: Request,
    pub(super) document: Option<Arc<Document>>,
}

impl Prepared {
    /// Whether the request has no query text at all.
    pub fn is_empty(&self) -> bool {
        self.request.query.trim().is_empty()
    }

    /// Whether the request's lists may be written as JSON.
    pub(super) fn lists_as_json(&self) -> bool {
        self.document
            .as_ref()
            .is_some_and(|document| document.lists_as_json)
    }

    /// The name of the operation the request runs, if it has one.
    pub fn operation_name(&self) -> Option<&str> {
        if let Some(name) = &self.request.operation_name {
            return Some(name);
        }
        let document = &self.document.as_ref()?.parsed;
        let mut operations = document.operations.iter();
        match (operations.next(), operations.next()) {
            (Some((name, _)), None) => name.map(|name| name.as_str()),
            _ => None,
        }
    }

    /// Whether the operation the request would run is a mutation.
    pub fn is_mutation(&self) -> bool {
        let Some(document) = &self.document else {
            return false;
        };
        let wanted = self.request.operation_name.as_deref();
        document.parsed.operations.iter().any(|(name, operation)| {
            let selected = match wanted {
                Some(wanted) => name.is_some_and(|name| name.as_str() == wanted),
                None => true,
            };
            selected && operation.node.ty == OperationType::Mutation
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(n: usize) -> String {
        format!("{{ authors(first: {n}) {{ nodes {{ name }} }} }}")
    }

    #[test]
    fn a_stored_document_is_the_one_parsed() {
        let documents = Documents::new(1 << 20);
        let first = documents.prepare(Request::new(query(1)));
        let again = documents.prepare(Request::new(query(1)));
        assert!(Arc::ptr_eq(
            first.document.as_ref().unwrap(),
            again.document.as_ref().unwrap()
        ));
        assert_eq!(documents.size().0, 1);
    }

    #[test]
    fn distinct_texts_never_grow_the_store_past_its_bound() {
        let bound = 512 * 1024;
        let documents = Documents::new(bound);
        for n in 0..10_000 {
            documents.prepare(Request::new(query(n)));
            assert!(documents.size().1 <= bound);
        }
        let (count, bytes) = documents.size();
        assert!(count > 100, "{count} documents in {bytes} bytes");
        // The most recent texts are the ones kept.
        let recent = documents.prepare(Request::new(query(9_999)));
        assert_eq!(documents.size().0, count);
        assert!(recent.document.is_some());
    }

    #[test]
    fn a_text_larger_than_the_bound_is_not_stored() {
        let documents = Documents::new(64 * 1024);
        let huge = format!("{{ {} }}", "__typename ".repeat(100_000));
        assert!(huge.len() > 1 << 20);
        let prepared = documents.prepare(Request::new(huge));
        assert!(prepared.document.is_some());
        assert_eq!(documents.size(), (0, 0));
    }

    #[test]
    fn a_text_that_does_not_parse_is_never_stored() {
        let documents = Documents::new(1 << 20);
        for _ in 0..2 {
            let prepared = documents.prepare(Request::new("{ authors { "));
            assert!(prepared.document.is_none());
        }
        assert_eq!(documents.size(), (0, 0));
    }

    #[test]
    fn nothing_is_stored_with_a_bound_of_zero() {
        let documents = Documents::new(0);
        documents.prepare(Request::new(query(1)));
        assert_eq!(documents.size(), (0, 0));
    }
}

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
struct Document {
    /// The parsed document; each request executes a copy.
    parsed: ExecutableDocument,
    /// Whether its lists may be written as JSON ([`ListsAsJson::allowed`]).
    lists_as_json: bool,
}

/// The bytes a stored document is counted for: its text, and the parsed tree, which holds a node
/// with a position for each token. Measured on this schema's queries, a tree takes 30 to 70 times
/// its text plus about 1 KiB, and a text of bare repeated fields about 100 times; each text is
/// counted as 128 times plus 1 KiB, so that the bound holds. A store of 4 MiB keeps about 300
/// texts of 100 characters.
fn weight(text: &str) -> usize {
    text.len().saturating_mul(128).saturating_add(1024)
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

    /// `request` with what its document says: the stored one for its text, or parsed now (and
    /// stored, if it parsed and fits; only then is it copied).
    pub fn prepare(&self, mut request: Request) -> Prepared {
        let found = self
            .lock()
            .documents
            .get(request.query.as_str())
            .map(Arc::clone);
        if let Some(document) = found {
            let facts = Facts::of(
                request.operation_name.as_deref(),
                &document.parsed,
                document.lists_as_json,
            );
            request.set_parsed_query(document.parsed.clone());
            return Prepared { request, facts };
        }
        let fits = weight(&request.query) <= self.max_bytes;
        let wanted = request.operation_name.clone();
        let (facts, document) = match request.parsed_query() {
            Ok(parsed) => {
                let lists_as_json = ListsAsJson::allowed(parsed);
                let document = fits.then(|| Document {
                    parsed: parsed.clone(),
                    lists_as_json,
                });
                (
                    Facts::of(wanted.as_deref(), parsed, lists_as_json),
                    document,
                )
            }
            // Parsed again, and refused, when executed.
            Err(_) => (Facts::default(), None),
        };
        if let Some(document) = document {
            self.store(&request.query, Arc::new(document));
        }
        Prepared { request, facts }
    }

    fn store(&self, text: &str, document: Arc<Document>) {
        let bytes = weight(text);
        let mut stored = self.lock();
        if stored.documents.put(text.into(), document).is_some() {
            // Another request stored the same text meanwhile: the same weight.
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

/// A request and what its document says, ready to execute.
pub struct Prepared {
    pub(super) request: Request,
    facts: Facts,
}

/// What a request's document says of it, known before it runs.
#[derive(Default)]
struct Facts {
    lists_as_json: bool,
    operation_name: Option<String>,
    is_mutation: bool,
}

impl Facts {
    /// What `document` says of a request that names operation `wanted`. A request whose text
    /// does not parse has the default: nothing.
    fn of(wanted: Option<&str>, document: &ExecutableDocument, lists_as_json: bool) -> Self {
        let mut operations = document.operations.iter();
        let operation_name = match (wanted, operations.next(), operations.next()) {
            (Some(wanted), _, _) => Some(wanted.to_owned()),
            (None, Some((name, _)), None) => name.map(|name| name.to_string()),
            _ => None,
        };
        let is_mutation = document.operations.iter().any(|(name, operation)| {
            let selected = match wanted {
                Some(wanted) => name.is_some_and(|name| name.as_str() == wanted),
                None => true,
            };
            selected && operation.node.ty == OperationType::Mutation
        });
        Self {
            lists_as_json,
            operation_name,
            is_mutation,
        }
    }
}

impl Prepared {
    /// Whether the request has no query text at all.
    pub fn is_empty(&self) -> bool {
        self.request.query.trim().is_empty()
    }

    /// Whether the request's lists may be written as JSON.
    pub(super) fn lists_as_json(&self) -> bool {
        self.facts.lists_as_json
    }

    /// The name of the operation the request runs, if it has one.
    pub fn operation_name(&self) -> Option<&str> {
        self.facts.operation_name.as_deref()
    }

    /// Whether the operation the request would run is a mutation.
    pub fn is_mutation(&self) -> bool {
        self.facts.is_mutation
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
        assert!(first.lists_as_json() && again.lists_as_json());
        assert_eq!(documents.size().0, 1);
    }

    #[test]
    fn distinct_texts_never_grow_the_store_past_its_bound() {
        let bound = 1 << 20;
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
        assert!(recent.lists_as_json());
    }

    #[test]
    fn a_text_larger_than_the_bound_is_not_stored() {
        let documents = Documents::new(64 * 1024);
        let fields: Vec<String> = (0..70_000).map(|n| format!("a{n}: __typename")).collect();
        let huge = format!("{{ {} }}", fields.join(" "));
        assert!(huge.len() > 1 << 20);
        let prepared = documents.prepare(Request::new(huge));
        assert!(prepared.lists_as_json());
        assert_eq!(documents.size(), (0, 0));
    }

    #[test]
    fn a_text_that_does_not_parse_is_never_stored() {
        let documents = Documents::new(1 << 20);
        for _ in 0..2 {
            let prepared = documents.prepare(Request::new("{ authors { "));
            assert!(!prepared.lists_as_json());
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

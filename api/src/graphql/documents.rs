//! Parsed documents, kept per query text: frontends send the same few texts again and again, and
//! clients of automatic persisted queries send only the text's SHA-256 once the server has it.
//!
//! The store is bounded in (estimated) bytes and forgets the least recently used text first. Its
//! key is the SHA-256 of the text, so that a plain request and a persisted query find the same
//! entry. It keeps only documents that parsed; a text that does not parse is parsed, and refused,
//! every time. It saves parsing and nothing else: async-graphql validates every request
//! (variables and the operation name differ from one request to the next), and the depth and
//! complexity limits are part of validation, so they apply to every request.
//!
//! Automatic persisted queries (Apollo's protocol, docs/reference.md § Persisted queries): a
//! request whose `extensions.persistedQuery` is `{"version": 1, "sha256Hash": "<64 hex digits>"}`
//! runs the stored text of that hash when it has no `query`, and is refused with
//! `PERSISTED_QUERY_NOT_FOUND` when the store has none; with a `query`, the hash must be the
//! text's, and the text is stored as any other.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_graphql::{
    ErrorExtensionValues, Request, ServerError,
    parser::types::{ExecutableDocument, OperationType},
};
use lru::LruCache;
use sha2::{Digest, Sha256};

use super::json::ListsAsJson;

/// The SHA-256 of a query text: the key of its document.
type Hash = [u8; 32];

/// What is known of a query text once it parsed.
struct Document {
    /// The text, for requests that send only its hash.
    text: Arc<str>,
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

/// Documents by the hash of their text, at most `max_bytes` of them ([`weight`]).
pub struct Documents {
    max_bytes: usize,
    stored: Mutex<Stored>,
}

struct Stored {
    documents: LruCache<Hash, Arc<Document>>,
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

    /// `request` with what its document says: the stored one for its text (or for its persisted
    /// query's hash), or parsed now (and stored, if it parsed and fits; only then is it copied).
    /// A persisted query that cannot be served is refused here, before anything runs.
    pub fn prepare(&self, mut request: Request) -> Prepared {
        let persisted = match persisted_hash(&request) {
            Ok(persisted) => persisted,
            Err(refusal) => return Prepared::refused(request, refusal),
        };
        let hash = match persisted {
            Some(hash) if request.query.is_empty() => {
                let Some(document) = self.get(&hash) else {
                    return Prepared::refused(
                        request,
                        refusal("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND"),
                    );
                };
                request.query = document.text.to_string();
                return Prepared::of(request, &document);
            }
            Some(hash) => {
                if hash != sha256(&request.query) {
                    return Prepared::refused(
                        request,
                        refusal(
                            "`extensions.persistedQuery.sha256Hash` is not the SHA-256 of the query",
                            "BAD_USER_INPUT",
                        ),
                    );
                }
                hash
            }
            None => sha256(&request.query),
        };
        if let Some(document) = self.get(&hash)
            && *document.text == *request.query
        {
            return Prepared::of(request, &document);
        }
        let fits = weight(&request.query) <= self.max_bytes;
        let text: Option<Arc<str>> = fits.then(|| request.query.as_str().into());
        let wanted = request.operation_name.clone();
        let (facts, document) = match request.parsed_query() {
            Ok(parsed) => {
                let lists_as_json = ListsAsJson::allowed(parsed);
                let document = text.map(|text| Document {
                    text,
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
            self.store(hash, Arc::new(document));
        }
        Prepared {
            request,
            facts,
            refusal: None,
        }
    }

    /// The document of `hash`, if stored (and now the most recently used).
    fn get(&self, hash: &Hash) -> Option<Arc<Document>> {
        self.lock().documents.get(hash).map(Arc::clone)
    }

    fn store(&self, hash: Hash, document: Arc<Document>) {
        let bytes = weight(&document.text);
        let mut stored = self.lock();
        if stored.documents.put(hash, document).is_some() {
            // Another request stored the same text meanwhile: the same weight.
            return;
        }
        stored.bytes += bytes;
        while stored.bytes > self.max_bytes {
            let Some((_, document)) = stored.documents.pop_lru() else {
                break;
            };
            stored.bytes -= weight(&document.text);
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

/// The SHA-256 of `text`.
fn sha256(text: &str) -> Hash {
    Sha256::digest(text.as_bytes()).into()
}

/// The hash named by the request's `extensions.persistedQuery`, if it has one.
///
/// # Errors
/// `BAD_USER_INPUT` when it is not `{"version": 1, "sha256Hash": <64 hex digits>}`.
fn persisted_hash(request: &Request) -> Result<Option<Hash>, ServerError> {
    use async_graphql::Value;

    let Some(persisted) = request.extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let malformed = |what: &str| {
        refusal(
            &format!("`extensions.persistedQuery` {what}"),
            "BAD_USER_INPUT",
        )
    };
    let Value::Object(fields) = persisted else {
        return Err(malformed("is not an object"));
    };
    match fields.get("version") {
        Some(Value::Number(version)) if version.as_u64() == Some(1) => {}
        _ => return Err(malformed("has no `version` this server knows (1)")),
    }
    let Some(Value::String(hex)) = fields.get("sha256Hash") else {
        return Err(malformed("has no `sha256Hash` string"));
    };
    let mut hash = [0; 32];
    if hex.len() != 64 || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(malformed("`sha256Hash` is not 64 hexadecimal digits"));
    }
    for (byte, pair) in hash.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).unwrap_or_default();
        *byte = u8::from_str_radix(pair, 16)
            .map_err(|_| malformed("`sha256Hash` is not 64 hexadecimal digits"))?;
    }
    Ok(Some(hash))
}

/// An error refusing a request before it runs, with `extensions.code` `code`.
fn refusal(message: &str, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// A request and what its document says, ready to execute.
pub struct Prepared {
    pub(super) request: Request,
    facts: Facts,
    /// Why it must not run, when it must not.
    pub(super) refusal: Option<ServerError>,
}

/// What a request's document says of it, known before it runs.
#[derive(Default)]
struct Facts {
    lists_as_json: bool,
    operation_name: Option<String>,
    is_mutation: bool,
    is_subscription: bool,
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
        let runs = |ty| {
            document.operations.iter().any(|(name, operation)| {
                let selected = match wanted {
                    Some(wanted) => name.is_some_and(|name| name.as_str() == wanted),
                    None => true,
                };
                selected && operation.node.ty == ty
            })
        };
        Self {
            lists_as_json,
            operation_name,
            is_mutation: runs(OperationType::Mutation),
            is_subscription: runs(OperationType::Subscription),
        }
    }
}

impl Prepared {
    /// `request` with the facts of `document`, its stored document.
    fn of(mut request: Request, document: &Document) -> Self {
        let facts = Facts::of(
            request.operation_name.as_deref(),
            &document.parsed,
            document.lists_as_json,
        );
        request.set_parsed_query(document.parsed.clone());
        Self {
            request,
            facts,
            refusal: None,
        }
    }

    /// `request`, refused with `error` before it runs.
    fn refused(request: Request, error: ServerError) -> Self {
        Self {
            request,
            facts: Facts::default(),
            refusal: Some(error),
        }
    }

    /// Whether the request has no query text at all, and nothing else to run either.
    pub fn is_empty(&self) -> bool {
        self.request.query.trim().is_empty() && self.refusal.is_none()
    }

    /// A new request with the same text, operation, variables and extensions, to run again.
    pub fn copy(&self) -> Request {
        let mut request =
            Request::new(self.request.query.clone()).variables(self.request.variables.clone());
        request
            .operation_name
            .clone_from(&self.request.operation_name);
        request.extensions.clone_from(&self.request.extensions);
        request
    }

    /// Whether it names a persisted query (`extensions.persistedQuery`).
    pub fn is_persisted_query(&self) -> bool {
        self.request.extensions.contains_key("persistedQuery")
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

    /// Whether the operation it runs (any of its operations, when it names none) is a
    /// subscription.
    pub fn is_subscription(&self) -> bool {
        self.facts.is_subscription
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

    /// A request of the persisted query `hash` alone.
    fn by_hash(hash: &str) -> Request {
        let mut request = Request::new("");
        request.extensions.insert(
            "persistedQuery".into(),
            async_graphql::Value::from_json(
                serde_json::json!({ "version": 1, "sha256Hash": hash }),
            )
            .unwrap(),
        );
        request
    }

    fn hex(hash: Hash) -> String {
        hash.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[test]
    fn a_persisted_query_finds_the_text_any_request_stored_and_unknown_hashes_store_nothing() {
        let bound = 1 << 20;
        let documents = Documents::new(bound);
        documents.prepare(Request::new(query(1)));
        let (count, bytes) = documents.size();

        let found = documents.prepare(by_hash(&hex(sha256(&query(1)))));
        for n in 0..10_000 {
            let unknown = documents.prepare(by_hash(&hex(sha256(&query(n + 2)))));
            assert!(unknown.refusal.is_some() && !unknown.is_empty());
        }
        let upper = documents.prepare(by_hash(&hex(sha256(&query(1))).to_uppercase()));

        assert!(found.refusal.is_none());
        assert_eq!(found.request.query, query(1));
        assert!(found.lists_as_json());
        assert_eq!(documents.size(), (count, bytes));
        assert!(upper.refusal.is_none(), "hexadecimal digits in either case");
    }

    #[test]
    fn nothing_is_stored_with_a_bound_of_zero() {
        let documents = Documents::new(0);
        documents.prepare(Request::new(query(1)));
        assert_eq!(documents.size(), (0, 0));
    }
}

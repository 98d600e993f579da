//! Opaque keyset cursors (docs/reference.md § Pagination).
//!
//! A cursor holds the values of a row's sort keys, id last, and the name of the ordering they
//! belong to, as URL-safe base64 of a small JSON document. It never holds an offset, so it stays
//! valid when rows are inserted before it.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

/// One sort-key value of a row.
///
/// Its `Ord` is the database's order for integers only: text compares by bytes, not by collation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CursorValue {
    /// An integer key: an id, or a year.
    Int(i64),
    /// A text key: a name or a title.
    Text(String),
}

/// A decoded cursor: the sort-key values of the row it points at, in ordering order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(pub(crate) Vec<CursorValue>);

#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    #[serde(rename = "o")]
    ordering: std::borrow::Cow<'a, str>,
    #[serde(rename = "k")]
    keys: std::borrow::Cow<'a, [CursorValue]>,
}

impl Cursor {
    /// The opaque text handed to clients for a row sorted by `ordering`.
    pub(crate) fn encode(ordering: &str, keys: &[CursorValue]) -> String {
        let wire = Wire {
            ordering: ordering.into(),
            keys: keys.into(),
        };
        let json = serde_json::to_vec(&wire).expect("cursor values always serialise");
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a cursor, or `None` when `text` is not a cursor of `ordering`.
    pub(crate) fn decode(ordering: &str, text: &str) -> Option<Self> {
        let json = URL_SAFE_NO_PAD.decode(text).ok()?;
        let wire: Wire<'_> = serde_json::from_slice(&json).ok()?;
        // No cursor of ours holds a NUL, which PostgreSQL could not compare.
        let has_nul = wire
            .keys
            .iter()
            .any(|key| matches!(key, CursorValue::Text(text) if text.contains('\0')));
        (wire.ordering == ordering && !has_nul).then(|| Self(wire.keys.into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_through_its_text() {
        let keys = vec![CursorValue::Text("Zoë \"Ω\"".into()), CursorValue::Int(42)];
        let text = Cursor::encode("name:asc,id:asc", &keys);
        assert_eq!(Cursor::decode("name:asc,id:asc", &text), Some(Cursor(keys)));
    }

    #[test]
    fn a_cursor_of_another_ordering_or_garbage_is_refused() {
        let text = Cursor::encode("id:asc", &[CursorValue::Int(1)]);
        assert_eq!(Cursor::decode("id:desc", &text), None);
        assert_eq!(Cursor::decode("id:asc", "not a cursor!"), None);
        assert_eq!(
            Cursor::decode("id:asc", &URL_SAFE_NO_PAD.encode("[1]")),
            None
        );
    }
}

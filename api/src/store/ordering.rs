//! Orderings: the sort keys of a list, always ending with the id, and the keyset conditions that
//! read a list from a cursor on.

use std::{fmt::Debug, hash::Hash};

use sea_orm::{
    DbBackend,
    sea_query::{Condition, Expr, ExprTrait, Order},
};

use super::{Cursor, CursorValue};
use crate::error::{ApiError, ApiResult};

/// Direction of one sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

impl Direction {
    pub(super) fn order(self, reverse: bool) -> Order {
        match (self, reverse) {
            (Self::Asc, false) | (Self::Desc, true) => Order::Asc,
            (Self::Asc, true) | (Self::Desc, false) => Order::Desc,
        }
    }
}

/// A column a list can be sorted by.
pub trait SortField: Debug + Clone + Copy + PartialEq + Eq + Hash + Send + Sync + 'static {
    /// The row type this field belongs to.
    type Model;
    /// The primary key, the tie-breaker every ordering ends with.
    const ID: Self;
    /// The field's name inside cursors.
    fn name(self) -> &'static str;
    /// The SQL expression rows are sorted by on `backend`.
    fn expr(self, backend: DbBackend) -> Expr;
    /// The expression rows are sorted by the other way: `0 - key`, with the constant written
    /// into the SQL as the indexes have it. A backend without indexes on expressions names a
    /// generated column instead.
    fn negated(self, backend: DbBackend) -> Expr {
        Expr::cust("0").sub(self.expr(backend))
    }
    /// The value of [`SortField::expr`] for one row.
    fn key(self, row: &Self::Model) -> CursorValue;
    /// Whether the key is text (otherwise an integer).
    fn is_text(self) -> bool;
}

/// A validated ordering: the requested keys without repeats, always ending with the id, so that
/// pages never repeat or skip rows (docs/reference.md § Pagination).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ordering<F> {
    keys: Vec<(F, Direction)>,
}

impl<F: SortField> Ordering<F> {
    /// The ordering the client asked for, made total with the id as the last key. The id takes
    /// the direction of the key before it, so that a descending list is the exact reverse of the
    /// ascending one and every single-key ordering is one index read forwards or backwards.
    pub fn new(requested: impl IntoIterator<Item = (F, Direction)>) -> Self {
        let mut keys: Vec<(F, Direction)> = Vec::new();
        for (field, direction) in requested {
            if !keys.iter().any(|(seen, _)| *seen == field) {
                keys.push((field, direction));
            }
            if field == F::ID {
                return Self { keys };
            }
        }
        let direction = keys.last().map_or(Direction::Asc, |(_, d)| *d);
        keys.push((F::ID, direction));
        Self { keys }
    }

    fn signature(&self) -> String {
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|(field, direction)| format!("{}:{direction:?}", field.name()))
            .collect();
        keys.join(",")
    }

    /// The opaque cursor of `row` in this ordering.
    pub fn cursor_of(&self, row: &F::Model) -> String {
        let keys: Vec<CursorValue> = self.keys.iter().map(|(f, _)| f.key(row)).collect();
        Cursor::encode(&self.signature(), &keys)
    }

    /// Reads a cursor that a client got from a list in this ordering.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when the text is not such a cursor; `argument` names the argument.
    pub fn parse_cursor(&self, argument: &str, text: &str) -> ApiResult<Cursor> {
        Cursor::decode(&self.signature(), text)
            .filter(|cursor| {
                cursor.0.len() == self.keys.len()
                    && cursor.0.iter().zip(&self.keys).all(|(value, (field, _))| {
                        matches!(value, CursorValue::Text(_)) == field.is_text()
                    })
            })
            .ok_or_else(|| {
                ApiError::invalid(argument, "is not a valid cursor for this list and ordering")
            })
    }

    /// The keys as SQL sorts them: (expression, direction, negated). They all run in the
    /// direction of the text key, or of the first key when there is none: a numeric key sorted
    /// the other way is negated, `0 - year ASC` standing for `year DESC`, so that an ordering such
    /// as newest first, then by title, is one index read and its cursor one row-value
    /// comparison. A model has one text column, so only numeric keys ever need it, and the
    /// directions always agree.
    pub(super) fn terms(
        &self,
        backend: DbBackend,
    ) -> impl Iterator<Item = (Expr, Direction, bool)> + '_ {
        let leading = self
            .keys
            .iter()
            .find(|(field, _)| field.is_text())
            .or(self.keys.first())
            .map_or(Direction::Asc, |(_, d)| *d);
        self.keys.iter().map(move |(field, direction)| {
            if *direction == leading {
                (field.expr(backend), *direction, false)
            } else {
                debug_assert!(!field.is_text(), "one text key per ordering");
                (field.negated(backend), leading, true)
            }
        })
    }

    /// `ORDER BY` terms; `reverse` flips every direction (to read a page backwards).
    pub(super) fn order_terms(
        &self,
        backend: DbBackend,
        reverse: bool,
    ) -> impl Iterator<Item = (Expr, Order)> + '_ {
        self.terms(backend)
            .map(move |(expr, direction, _)| (expr, direction.order(reverse)))
    }

    /// Rows strictly after (`forward`) or before the cursor in this ordering, as one row-value
    /// comparison over [`Ordering::terms`], which an index on the sort keys can seek to:
    /// `(k1, k2, …) > (v1, v2, …)`, so a deep page costs what the first one does. The bound it
    /// implies on the first key, `k1 >= v1`, is written out too: SQLite seeks an index on an
    /// expression (the year) only through such a simple comparison.
    pub(super) fn beyond(&self, backend: DbBackend, cursor: &Cursor, forward: bool) -> Condition {
        let mut ascending = true;
        let (keys, values): (Vec<Expr>, Vec<Expr>) = self
            .terms(backend)
            .zip(&cursor.0)
            .map(|((expr, direction, negated), value)| {
                ascending = (direction == Direction::Asc) == forward;
                let value = match value {
                    CursorValue::Int(v) if negated => Expr::val(v.saturating_neg()),
                    CursorValue::Int(v) => Expr::val(*v),
                    CursorValue::Text(v) => Expr::val(v.clone()),
                };
                (expr, value)
            })
            .unzip();
        let mut condition = Condition::all();
        if let (true, Some(key), Some(value)) = (keys.len() > 1, keys.first(), values.first()) {
            condition = condition.add(if ascending {
                key.clone().gte(value.clone())
            } else {
                key.clone().lte(value.clone())
            });
        }
        let (keys, values) = (Expr::tuple(keys), Expr::tuple(values));
        condition.add(if ascending {
            keys.gt(values)
        } else {
            keys.lt(values)
        })
    }
}

//! All SQL of the service goes through here; resolvers and loaders never build queries.
//!
//! Functions take `&impl ConnectionTrait`, so they run on the pool or inside a transaction alike,
//! and return entity models. Keyset pagination, ordering and the case-insensitive `contains` are
//! written once, below, for every backend.

pub mod author;
pub mod book;
mod cursor;

use std::{fmt::Debug, hash::Hash};

use sea_orm::{
    ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{BinOper, Condition, Expr, ExprTrait, IntoColumnRef, Order},
};

pub use cursor::{Cursor, CursorValue};

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
    fn order(self, reverse: bool) -> Order {
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
    /// The SQL expression rows are sorted by.
    fn expr(self) -> Expr;
    /// The value of [`SortField::expr`] for one row.
    fn key(self, row: &Self::Model) -> CursorValue;
    /// Whether the key is text (otherwise an integer).
    fn is_text(self) -> bool;
}

/// A validated ordering: the requested keys without repeats, always ending with the id, so that
/// pages never repeat or skip rows (`API.md` § Pagination).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ordering<F> {
    keys: Vec<(F, Direction)>,
}

impl<F: SortField> Ordering<F> {
    /// The ordering the client asked for, made total with the id as the last key.
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
        keys.push((F::ID, Direction::Asc));
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
                ApiError::bad_input(format!(
                    "`{argument}` is not a valid cursor for this list and ordering"
                ))
            })
    }

    /// Whether every key is an integer. Rust then orders rows exactly as the database does, which
    /// it cannot promise for text compared under the database's collation.
    fn is_numeric(&self) -> bool {
        self.keys.iter().all(|(field, _)| !field.is_text())
    }

    /// Compares two rows in this ordering; the same order as the database's only when
    /// [`Ordering::is_numeric`].
    fn compare(&self, a: &F::Model, b: &F::Model) -> std::cmp::Ordering {
        self.keys
            .iter()
            .map(|(field, direction)| {
                let order = field.key(a).cmp(&field.key(b));
                match direction {
                    Direction::Asc => order,
                    Direction::Desc => order.reverse(),
                }
            })
            .find(|order| order.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    }

    /// `ORDER BY` terms; `reverse` flips every direction (to read a page backwards).
    fn order_terms(&self, reverse: bool) -> impl Iterator<Item = (Expr, Order)> + '_ {
        self.keys
            .iter()
            .map(move |(field, direction)| (field.expr(), direction.order(reverse)))
    }

    /// Rows strictly after (`forward`) or before the cursor in this ordering: the lexicographic
    /// comparison `(k1, k2, …) > (v1, v2, …)` spelled out, since keys may mix directions.
    fn beyond(&self, cursor: &Cursor, forward: bool) -> Condition {
        let mut any = Condition::any();
        for (i, ((field, direction), value)) in self.keys.iter().zip(&cursor.0).enumerate() {
            let mut all = Condition::all();
            for ((equal_field, _), equal_value) in self.keys[..i].iter().zip(&cursor.0) {
                all = all.add(field_cmp(*equal_field, equal_value, Cmp::Eq));
            }
            let ascending = (*direction == Direction::Asc) == forward;
            let cmp = if ascending { Cmp::Gt } else { Cmp::Lt };
            any = any.add(all.add(field_cmp(*field, value, cmp)));
        }
        any
    }
}

enum Cmp {
    Eq,
    Gt,
    Lt,
}

fn field_cmp<F: SortField>(field: F, value: &CursorValue, cmp: Cmp) -> Expr {
    let value = match value {
        CursorValue::Int(v) => Expr::val(*v),
        CursorValue::Text(v) => Expr::val(v.clone()),
    };
    let expr = field.expr();
    match cmp {
        Cmp::Eq => expr.eq(value),
        Cmp::Gt => expr.gt(value),
        Cmp::Lt => expr.lt(value),
    }
}

/// Which slice of an ordered list to read (`API.md` § Pagination).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Window {
    /// Only rows after this cursor.
    pub after: Option<Cursor>,
    /// Only rows before this cursor.
    pub before: Option<Cursor>,
    /// How many rows, at most.
    pub limit: u64,
    /// Take the last `limit` rows of the slice instead of the first.
    pub from_end: bool,
}

/// A page of rows in display order, and whether more rows lie beyond it in the reading direction.
#[derive(Debug, Clone)]
pub struct Page<M> {
    /// The rows, at most `limit` of them.
    pub rows: Vec<M>,
    /// Whether the read found a row past the last one returned.
    pub has_more: bool,
}

impl<M> Default for Page<M> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            has_more: false,
        }
    }
}

impl<M> Page<M> {
    /// Splits `limit + 1` fetched rows into a page and whether the extra row exists.
    fn from_probe(mut rows: Vec<M>, limit: u64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        Self { rows, has_more }
    }
}

/// Reads one window of `select` in `ordering`: one statement, fetching one row more than the page
/// so that `has_more` needs no second query.
async fn read_page<E, F>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    ordering: &Ordering<F>,
    window: &Window,
) -> ApiResult<Page<E::Model>>
where
    E: EntityTrait,
    F: SortField<Model = E::Model>,
{
    let mut select = select;
    if let Some(after) = &window.after {
        select = select.filter(ordering.beyond(after, true));
    }
    if let Some(before) = &window.before {
        select = select.filter(ordering.beyond(before, false));
    }
    for (expr, order) in ordering.order_terms(window.from_end) {
        select = select.order_by(expr, order);
    }
    let rows = select.limit(window.limit + 1).all(db).await?;
    let mut page = Page::from_probe(rows, window.limit);
    if window.from_end {
        page.rows.reverse();
    }
    Ok(page)
}

/// Case-insensitive substring match on every backend, with every character of `needle` matched
/// literally (`API.md` § Semantics: filters).
///
/// SQLite's `LOWER` and `LIKE` fold ASCII letters only, so there it is a Unicode-aware
/// case-insensitive `REGEXP` (Rust's `regex`, registered by sqlx) on the escaped needle. Elsewhere
/// it is `LOWER(column) LIKE LOWER(pattern)`, so that the database folds both sides the same way,
/// with `%`, `_` and the escape character `!` escaped.
fn contains(backend: DbBackend, column: impl IntoColumnRef, needle: &str) -> Expr {
    if backend == DbBackend::Sqlite {
        let pattern = format!("(?i){}", regex::escape(needle));
        return Expr::col(column).binary(BinOper::Custom("REGEXP"), Expr::val(pattern));
    }
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    // `!` rather than `\` as the escape character: it needs no quoting on any backend.
    Expr::cust_with_exprs(
        "LOWER($1) LIKE LOWER($2) ESCAPE '!'",
        [Expr::col(column), Expr::val(pattern)],
    )
}

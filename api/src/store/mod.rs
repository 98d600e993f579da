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
    ConnectionTrait, DbBackend, EntityTrait, QueryTrait, Select,
    sea_query::{
        Alias, Asterisk, BinOper, CommonTableExpression, Condition, Expr, ExprTrait, IntoColumnRef,
        Order, Query, WithClause,
    },
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
                ApiError::bad_input(format!(
                    "`{argument}` is not a valid cursor for this list and ordering"
                ))
            })
    }

    /// The keys as SQL sorts them: (expression, direction, negated). They all run in the
    /// direction of the text key, or of the first key when there is none: a numeric key sorted
    /// the other way is negated, `0 - year ASC` standing for `year DESC`, so that an ordering such
    /// as newest first, then by title, is one index read and its cursor one row-value
    /// comparison. A model has one text column, so only numeric keys ever need it, and the
    /// directions always agree.
    fn terms(&self) -> impl Iterator<Item = (Expr, Direction, bool)> + '_ {
        let leading = self
            .keys
            .iter()
            .find(|(field, _)| field.is_text())
            .or(self.keys.first())
            .map_or(Direction::Asc, |(_, d)| *d);
        self.keys.iter().map(move |(field, direction)| {
            if *direction == leading {
                (field.expr(), *direction, false)
            } else {
                debug_assert!(!field.is_text(), "one text key per ordering");
                // `0 - key`, the constant written into the SQL as the indexes have it.
                (Expr::cust("0").sub(field.expr()), leading, true)
            }
        })
    }

    /// `ORDER BY` terms; `reverse` flips every direction (to read a page backwards).
    fn order_terms(&self, reverse: bool) -> impl Iterator<Item = (Expr, Order)> + '_ {
        self.terms()
            .map(move |(expr, direction, _)| (expr, direction.order(reverse)))
    }

    /// Rows strictly after (`forward`) or before the cursor in this ordering, as one row-value
    /// comparison over [`Ordering::terms`], which an index on the sort keys can seek to:
    /// `(k1, k2, …) > (v1, v2, …)`, so a deep page costs what the first one does. The bound it
    /// implies on the first key, `k1 >= v1`, is written out too: SQLite seeks an index on an
    /// expression (the year) only through such a simple comparison.
    fn beyond(&self, cursor: &Cursor, forward: bool) -> Condition {
        let mut ascending = true;
        let (keys, values): (Vec<Expr>, Vec<Expr>) = self
            .terms()
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

/// Which slice of an ordered list to read (docs/reference.md § Pagination).
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

impl Window {
    /// The first `limit` rows after `after`, or from the start.
    pub fn forward(limit: u64, after: Option<Cursor>) -> Self {
        Self {
            after,
            before: None,
            limit,
            from_end: false,
        }
    }
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
///
/// Each ordering of one key, and newest first then by title, has an index (`migration`), so the
/// page is read along it from the cursor on.
/// A search (`matches_first`, see [`found_by_trigrams`]) is the exception on PostgreSQL: the
/// rows it matches are found first, through the trigram index, and only they are sorted.
/// Otherwise a plan cached for all search terms could walk the ordering's index and test every
/// row against a term that matches few; the fence makes the plan the same for every term.
async fn read_page<E, F>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    ordering: &Ordering<F>,
    window: &Window,
    matches_first: bool,
) -> ApiResult<Page<E::Model>>
where
    E: EntityTrait,
    F: SortField<Model = E::Model>,
{
    let backend = db.get_database_backend();
    let mut query = select.into_query();
    if matches_first && backend == DbBackend::Postgres {
        let matched = Alias::new("matched");
        let cte = CommonTableExpression::new()
            .query(query)
            .table_name(matched.clone())
            .materialized(true)
            .to_owned();
        query = Query::select()
            .column(Asterisk)
            .from(matched)
            .with_cte(WithClause::new().cte(cte).to_owned())
            .to_owned();
    }
    if let Some(after) = &window.after {
        query.cond_where(ordering.beyond(after, true));
    }
    if let Some(before) = &window.before {
        query.cond_where(ordering.beyond(before, false));
    }
    for (expr, order) in ordering.order_terms(window.from_end) {
        query.order_by_expr(expr, order);
    }
    query.limit(window.limit + 1);
    let rows = E::find()
        .from_raw_sql(backend.build(&query))
        .all(db)
        .await?;
    let mut page = Page::from_probe(rows, window.limit);
    if window.from_end {
        page.rows.reverse();
    }
    Ok(page)
}

/// The ASCII punctuation characters, which `pg_trgm` ignores. For the rows that hold one, a
/// second, partial trigram index (`idx_book_title_symbols`, `idx_author_name_symbols`) has the
/// text with each of them folded into a `q`, so that a term of punctuation ("%_\", "c++") has
/// trigrams too.
const PUNCTUATION: &str = r##"!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"##;

/// How PostgreSQL's trigram indexes find the rows that contain a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigrams {
    /// Three letters or digits in a row: the index on `lower(…)`.
    Words,
    /// No such run, but three letters, digits or ASCII punctuation characters in a row, some of
    /// them punctuation: the partial index on the folded text of the rows that hold punctuation.
    Symbols,
    /// Neither ("ab", "é", "a b"): no index finds the rows. Such a search reads along the
    /// ordering's index instead, which stops early when the term is common and reads the whole
    /// table when it is rare.
    None,
}

impl Trigrams {
    /// `pg_trgm` takes its trigrams from runs of letters and digits, so a run of three gives at
    /// least one. (It asks the database's locale what a letter is; where that disagrees with
    /// Rust, a search is slower, never wrong.)
    fn of(needle: &str) -> Self {
        let longest_run = |counts: fn(char) -> bool| {
            let mut run = 0;
            needle.chars().any(|c| {
                run = if counts(c) { run + 1 } else { 0 };
                run == 3
            })
        };
        if longest_run(char::is_alphanumeric) {
            Self::Words
        } else if longest_run(|c| c.is_alphanumeric() || c.is_ascii_punctuation()) {
            Self::Symbols
        } else {
            Self::None
        }
    }
}

/// Whether a trigram index finds the rows containing `needle` (on PostgreSQL).
fn found_by_trigrams(needle: &str) -> bool {
    Trigrams::of(needle) != Trigrams::None
}

/// Case-insensitive substring match on every backend, with every character of `needle` matched
/// literally (docs/reference.md § Filters).
///
/// SQLite's `LOWER` and `LIKE` fold ASCII letters only, so there it is a Unicode-aware
/// case-insensitive `REGEXP` (Rust's `regex`, registered by sqlx) on the escaped needle. Elsewhere
/// it is `LOWER(column) LIKE LOWER(pattern)`, so that the database folds both sides the same way,
/// with `%`, `_` and the escape character `!` escaped; the trigram index on `lower(column)` answers
/// it. On PostgreSQL a term of [`Trigrams::Symbols`] adds the conditions of the partial index on
/// folded text: the row holds punctuation, and its folded text contains the folded term. Both
/// hold for every row the exact comparison accepts (folding keeps a substring a substring), which
/// then drops the few rows they add.
fn contains(backend: DbBackend, column: impl IntoColumnRef + Clone, needle: &str) -> Expr {
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
    let exact = Expr::cust_with_exprs(
        "LOWER($1) LIKE LOWER($2) ESCAPE '!'",
        [Expr::col(column.clone()), Expr::val(pattern)],
    );
    if backend != DbBackend::Postgres || Trigrams::of(needle) != Trigrams::Symbols {
        return exact;
    }
    // The index's predicate and expression, written as the migration writes them; both sides
    // folded in SQL, in the index's order (lower, then translate). The folded needle holds no
    // punctuation, so none of its characters is a wildcard.
    let fold = |text: &str| {
        format!(
            "translate(LOWER({text}), '{}', '{}')",
            PUNCTUATION.replace('\'', "''"),
            "q".repeat(PUNCTUATION.len())
        )
    };
    let symbols = format!(
        "$1 ~ '[[:punct:]]' AND {} LIKE '%' || {} || '%'",
        fold("$2"),
        fold("$3")
    );
    let column = Expr::col(column);
    Expr::cust_with_exprs(symbols, [column.clone(), column, Expr::val(needle)]).and(exact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_has_trigrams_when_three_letters_digits_or_punctuation_follow_each_other() {
        for term in ["abc", "Zoë", "1984", "x 日本語", "c++ primer", "100%"] {
            assert_eq!(Trigrams::of(term), Trigrams::Words, "{term}");
        }
        for term in ["c++", "%_\\", "a%b", "...", "O'B"] {
            assert_eq!(Trigrams::of(term), Trigrams::Symbols, "{term}");
        }
        for term in ["", "ab", "a b c", "日本", "  ", "a\u{3000}bc", "%_", "é"] {
            assert_eq!(Trigrams::of(term), Trigrams::None, "{term}");
        }
    }
}

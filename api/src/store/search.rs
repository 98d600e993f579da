//! The case-insensitive, literal `contains` of the filters, and when PostgreSQL's trigram indexes
//! answer it.

use sea_orm::{
    DbBackend,
    sea_query::{BinOper, Expr, ExprTrait, IntoColumnRef},
};

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
pub(super) fn found_by_trigrams(needle: &str) -> bool {
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
pub(super) fn contains(
    backend: DbBackend,
    column: impl IntoColumnRef + Clone,
    needle: &str,
) -> Expr {
    if backend == DbBackend::Sqlite {
        let pattern = format!("(?i){}", regex::escape(needle));
        return Expr::col(column).binary(BinOper::Custom("REGEXP"), Expr::val(pattern));
    }
    let pattern = like_pattern(needle);
    if backend == DbBackend::MySql {
        // MariaDB compares in a collation of the Unicode Collation Algorithm that ignores case
        // and keeps accents, over all of Unicode; no index serves it (docs/reference.md).
        return Expr::cust_with_exprs(
            "? COLLATE utf8mb4_uca1400_as_ci LIKE ? ESCAPE '!'",
            [Expr::col(column), Expr::val(pattern)],
        );
    }
    // `!` rather than `\` as the escape character: it needs no quoting on any backend.
    let exact = Expr::cust_with_exprs(
        "LOWER($1) LIKE LOWER($2) ESCAPE '!'",
        [Expr::col(column.clone()), Expr::val(pattern)],
    );
    if backend != DbBackend::Postgres || Trigrams::of(needle) != Trigrams::Symbols {
        return exact;
    }
    symbols(column, needle).and(exact)
}

/// `%needle%` for `LIKE … ESCAPE '!'`: every character of `needle` literal.
fn like_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The conditions of PostgreSQL's partial trigram index on folded text, for a term of
/// [`Trigrams::Symbols`].
fn symbols(column: impl IntoColumnRef + Clone, needle: &str) -> Expr {
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
    Expr::cust_with_exprs(symbols, [column.clone(), column, Expr::val(needle)])
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

//! Generated queries over every field and argument of `Author`, `Book` and their connections:
//! lists resolved a field at a time (`api::graphql::lists`, with lists of columns written as JSON)
//! answer what async-graphql's executor answers object by object, the same JSON document and the
//! same number of SQL statements. `api::graphql::fields` checks, against the schema registry,
//! that lists know every field and argument; this checks that they resolve each one the same way.

use std::cell::Cell;

use proptest::prelude::*;

use crate::{
    helpers::{Backend, TestApp, property_harness},
    lists::{both_ways, raw, same_both_ways},
};

/// A small deterministic generator (SplitMix64), driven by a seed proptest chooses, of queries
/// that may use `cursor`, a valid `after` of `Author.books` in the default order.
struct Shapes<'c> {
    state: u64,
    cursor: &'c str,
}

impl Shapes<'_> {
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A filter of books, sometimes absent, sometimes refused.
    fn book_filter(&mut self) -> Option<&'static str> {
        [
            None,
            Some(r#"filter: { titleContains: "1" }"#),
            Some(r#"filter: { titleContains: "book %" }"#),
            Some("filter: { publishedYearFrom: 1902, publishedYearTo: 1905 }"),
            Some("filter: {}"),
            Some(r#"filter: { titleContains: "a\u0000b" }"#),
        ][self.below(6)]
    }

    /// The arguments of `Author.books`: any subset, sometimes wrong.
    fn books_arguments(&mut self) -> String {
        let mut arguments = Vec::new();
        if self.below(2) == 0 {
            arguments.push(
                self.pick(&[
                    "first: 0",
                    "first: 1",
                    "first: 2",
                    "first: 5",
                    "first: -1",
                    "first: 5000",
                ])
                .to_owned(),
            );
        }
        match self.below(6) {
            0 => arguments.push(format!("after: {:?}", self.cursor)),
            1 => arguments.push(
                self.pick(&[r#"after: "nonsense""#, r#"after: """#])
                    .to_owned(),
            ),
            _ => {}
        }
        if let Some(filter) = self.book_filter() {
            arguments.push(filter.to_owned());
        }
        if self.below(2) == 0 {
            arguments.push(
                self.pick(&[
                    "orderBy: [{ field: TITLE, direction: DESC }]",
                    "orderBy: [{ field: PUBLISHED_YEAR }, { field: TITLE }]",
                    "orderBy: [{ field: ID, direction: DESC }]",
                    "orderBy: []",
                ])
                .to_owned(),
            );
        }
        if arguments.is_empty() {
            String::new()
        } else {
            format!("({})", arguments.join(", "))
        }
    }

    /// 1 to 4 fields of an author, `depth` relations deep at most, each relation under its own
    /// alias `k<n>` so that none conflicts with another.
    fn author(&mut self, depth: usize, key: &mut usize) -> String {
        let mut fields = Vec::new();
        for _ in 0..=self.below(4) {
            *key += 1;
            let field = match self.below(if depth == 0 { 4 } else { 6 }) {
                0 => "id".to_owned(),
                1 => self.pick(&["name", "n: name", "__typename"]).to_owned(),
                2 | 3 => match self.book_filter() {
                    Some(filter) => format!("k{key}: bookCount({filter})"),
                    None => format!("k{key}: bookCount"),
                },
                _ => format!(
                    "k{key}: books{} {{ {} }}",
                    self.books_arguments(),
                    self.connection(depth - 1, key)
                ),
            };
            fields.push(field);
        }
        fields.join(" ")
    }

    /// 1 to 5 fields of a book.
    fn book(&mut self, depth: usize, key: &mut usize) -> String {
        let mut fields = Vec::new();
        for _ in 0..=self.below(5) {
            *key += 1;
            let field = match self.below(if depth == 0 { 5 } else { 7 }) {
                0 => "id".to_owned(),
                1 => self.pick(&["title", "t: title"]).to_owned(),
                2 => "publishedYear".to_owned(),
                3 => self.pick(&["authorId", "__typename"]).to_owned(),
                4 => "id title".to_owned(),
                _ => format!(
                    "k{key}: author {{ {} }}",
                    self.object("author", depth - 1, key)
                ),
            };
            fields.push(field);
        }
        fields.join(" ")
    }

    /// The fields of an object, marked `<…>`: resolved a field at a time one way, object by
    /// object the other (see `lists::both_ways`).
    fn object(&mut self, kind: &str, depth: usize, key: &mut usize) -> String {
        let fields = if kind == "author" {
            self.author(depth, key)
        } else {
            self.book(depth, key)
        };
        format!("< {fields} >")
    }

    /// 1 to 3 fields of a connection of books.
    fn connection(&mut self, depth: usize, key: &mut usize) -> String {
        let mut fields = Vec::new();
        for _ in 0..=self.below(3) {
            *key += 1;
            let field = match self.below(6) {
                0..=2 => format!("k{key}: nodes {{ {} }}", self.object("book", depth, key)),
                3 => "totalCount".to_owned(),
                4 => format!(
                    "k{key}: pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}"
                ),
                _ => format!(
                    "k{key}: edges {{ cursor node {{ {} }} }}",
                    self.object("book", depth, key)
                ),
            };
            fields.push(field);
        }
        fields.join(" ")
    }

    /// A query from the root: a page of authors or of books, up to three relations deep.
    fn query(&mut self) -> String {
        let depth = 1 + self.below(3);
        let mut key = 0;
        if self.below(2) == 0 {
            let authors = self.object("author", depth, &mut key);
            format!("{{ authors(first: 6) {{ nodes {{ {authors} }} }} }}")
        } else {
            let books = self.object("book", depth, &mut key);
            format!("{{ books(first: 12) {{ nodes {{ {books} }} }} }}")
        }
    }
}

fn run(backend: Backend, cases: u32) {
    let (runtime, mut runner) = property_harness(cases);
    let app = runtime.block_on(async {
        let app = TestApp::spawn(backend).await;
        app.authors_with_books(5, 3).await;
        app.author_with_books("Nobody", &[]).await;
        app.author_with_books(
            "Ὅμηρος \"Homer\"",
            &[("Ἰλιάς", Some(-750)), ("book % 1", None)],
        )
        .await;
        app
    });
    let first_page =
        runtime.block_on(app.graphql(
            "{ authors(first: 1) { nodes { books(first: 1) { pageInfo { endCursor } } } } }",
        ));
    let cursor = first_page["data"]["authors"]["nodes"][0]["books"]["pageInfo"]["endCursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    // Cases whose two answers, equal as JSON, differ in bytes: the fields of the list's objects
    // come in the order of the selection one way, in the order they finished the other.
    let reordered = Cell::new(0);
    runner
        .run(&any::<u64>(), |seed| {
            let query = Shapes {
                state: seed,
                cursor: &cursor,
            }
            .query();
            let response = runtime.block_on(same_both_ways(&app, &query));
            prop_assert!(response.get("data").is_some(), "{query}: {response}");
            let (batched, resolved) = both_ways(&query);
            if runtime.block_on(raw(&app, &batched)) != runtime.block_on(raw(&app, &resolved)) {
                reordered.set(reordered.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    // The comparisons above went through lists resolved a field at a time.
    assert!(
        reordered.get() > 0,
        "no answer came from the lists' own path"
    );
}

#[test]
fn generated_queries_answer_the_same_both_ways_on_sqlite() {
    run(Backend::Sqlite, 150);
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "set TEST_POSTGRES_URL to run on PostgreSQL"
)]
fn generated_queries_answer_the_same_both_ways_on_postgres() {
    if let Some(backend) = Backend::postgres() {
        run(backend, 60);
    }
}

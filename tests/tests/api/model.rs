//! Model-based test: random sequences of mutations applied both to the service and to an in-memory
//! model; after every step the whole state read back through the API equals the model.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, property_harness};

/// A mutation, with its targets chosen among the rows that exist when it runs.
#[derive(Debug, Clone)]
enum Op {
    CreateAuthor {
        books: usize,
    },
    RenameAuthor {
        pick: usize,
    },
    CreateBook {
        pick: usize,
        missing_author: bool,
    },
    UpdateBook {
        pick: usize,
        move_to: Option<usize>,
        clear_year: bool,
    },
    DeleteBook {
        pick: usize,
    },
    DeleteAuthor {
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..4).prop_map(|books| Op::CreateAuthor { books }),
        any::<usize>().prop_map(|pick| Op::RenameAuthor { pick }),
        (any::<usize>(), prop::bool::weighted(0.2)).prop_map(|(pick, missing_author)| {
            Op::CreateBook {
                pick,
                missing_author,
            }
        }),
        (
            any::<usize>(),
            prop::option::of(any::<usize>()),
            any::<bool>()
        )
            .prop_map(|(pick, move_to, clear_year)| Op::UpdateBook {
                pick,
                move_to,
                clear_year
            }),
        any::<usize>().prop_map(|pick| Op::DeleteBook { pick }),
        any::<usize>().prop_map(|pick| Op::DeleteAuthor { pick }),
    ]
}

/// A book: title and year.
type Book = (String, Option<i64>);
/// Authors by id: name, and books by id.
type Model = BTreeMap<i64, (String, BTreeMap<i64, Book>)>;

/// The whole state, read back through the API.
async fn read_back(app: &TestApp) -> Model {
    let response = app
        .graphql("{ authors(first: 100) { nodes { id name books(first: 100) { nodes { id title publishedYear } } } } }")
        .await;
    let id = |v: &Value| v["id"].as_str().unwrap().parse::<i64>().unwrap();
    response["data"]["authors"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("no state in {response}"))
        .iter()
        .map(|author| {
            let books = author["books"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    (
                        id(b),
                        (
                            b["title"].as_str().unwrap().to_owned(),
                            b["publishedYear"].as_i64(),
                        ),
                    )
                })
                .collect();
            (
                id(author),
                (author["name"].as_str().unwrap().to_owned(), books),
            )
        })
        .collect()
}

fn pick<T: Copy>(items: &[T], index: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[index % items.len()])
}

/// Applies `op` to the service and to `model`; returns what the service answered.
async fn apply(app: &TestApp, model: &mut Model, step: usize, op: &Op) -> Value {
    let authors: Vec<i64> = model.keys().copied().collect();
    let books: Vec<(i64, i64)> = model
        .iter()
        .flat_map(|(a, (_, books))| books.keys().map(move |b| (*a, *b)))
        .collect();
    let missing = 9_000_000 + i64::try_from(step).unwrap();
    match *op {
        Op::CreateAuthor { books } => {
            let name = format!("Author {step}");
            let new_books: Vec<Value> = (0..books)
                .map(|i| json!({ "title": format!("Book {step}.{i}"), "publishedYear": 1900 + i }))
                .collect();
            let response = app
                .graphql_with(
                    "mutation($i: CreateAuthorInput!) { createAuthor(input: $i) { id books(first: 100) { nodes { id } } } }",
                    json!({ "i": { "name": name, "books": new_books } }),
                )
                .await;
            let created = &response["data"]["createAuthor"];
            let id = created["id"].as_str().unwrap().parse().unwrap();
            let ids: Vec<i64> = created["books"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["id"].as_str().unwrap().parse().unwrap())
                .collect();
            let books = ids
                .into_iter()
                .enumerate()
                .map(|(i, book)| {
                    (
                        book,
                        (
                            format!("Book {step}.{i}"),
                            Some(1900 + i64::try_from(i).unwrap()),
                        ),
                    )
                })
                .collect();
            model.insert(id, (name, books));
            response
        }
        Op::RenameAuthor { pick: index } => {
            let id = pick(&authors, index).unwrap_or(missing);
            let name = format!("Renamed {step}");
            if let Some((old, _)) = model.get_mut(&id) {
                old.clone_from(&name);
            }
            app.graphql_with(
                "mutation($id: ID!, $n: String) { updateAuthor(id: $id, input: { name: $n }) { id } }",
                json!({ "id": id.to_string(), "n": name }),
            )
            .await
        }
        Op::CreateBook {
            pick: index,
            missing_author,
        } => {
            let author = if missing_author {
                missing
            } else {
                pick(&authors, index).unwrap_or(missing)
            };
            let title = format!("New {step}");
            let response = app
                .graphql_with(
                    "mutation($a: ID!, $t: String!) { createBook(input: { authorId: $a, title: $t }) { id } }",
                    json!({ "a": author.to_string(), "t": title }),
                )
                .await;
            if let Some((_, books)) = model.get_mut(&author) {
                let id = response["data"]["createBook"]["id"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                books.insert(id, (title, None));
            }
            response
        }
        Op::UpdateBook {
            pick: index,
            move_to,
            clear_year,
        } => {
            let (owner, book) = pick(&books, index).unwrap_or((missing, missing));
            let target = move_to.map(|i| pick(&authors, i).unwrap_or(missing));
            let title = format!("Updated {step}");
            let mut input = json!({ "title": title });
            if clear_year {
                input["publishedYear"] = Value::Null;
            }
            if let Some(target) = target {
                input["authorId"] = json!(target.to_string());
            }
            let response = app
                .graphql_with(
                    "mutation($id: ID!, $i: UpdateBookInput!) { updateBook(id: $id, input: $i) { id } }",
                    json!({ "id": book.to_string(), "i": input }),
                )
                .await;
            let target = target.unwrap_or(owner);
            if model.contains_key(&target)
                && let Some(mut old) = model.get_mut(&owner).and_then(|(_, b)| b.remove(&book))
            {
                old.0 = title;
                if clear_year {
                    old.1 = None;
                }
                model.get_mut(&target).unwrap().1.insert(book, old);
            }
            response
        }
        Op::DeleteBook { pick: index } => {
            let (owner, book) = pick(&books, index).unwrap_or((missing, missing));
            if let Some((_, books)) = model.get_mut(&owner) {
                books.remove(&book);
            }
            app.graphql_with(
                "mutation($id: ID!) { deleteBook(id: $id) { deletedBookId } }",
                json!({ "id": book.to_string() }),
            )
            .await
        }
        Op::DeleteAuthor { pick: index } => {
            let id = pick(&authors, index).unwrap_or(missing);
            let response = app
                .graphql_with(
                    "mutation($id: ID!) { deleteAuthor(id: $id) { deletedBookIds } }",
                    json!({ "id": id.to_string() }),
                )
                .await;
            if let Some((_, books)) = model.remove(&id) {
                let expected: Vec<String> = books.keys().map(ToString::to_string).collect();
                assert_eq!(
                    response["data"]["deleteAuthor"]["deletedBookIds"],
                    json!(expected)
                );
            }
            response
        }
    }
}

fn run(backend: Backend, cases: u32) {
    let (runtime, mut runner) = property_harness(cases);
    let checked = std::cell::Cell::new(0);
    runner
        .run(&prop::collection::vec(op(), 1..25), |ops| {
            runtime.block_on(async {
                let app = TestApp::spawn(backend.clone()).await;
                let mut model = Model::new();
                for (step, op) in ops.iter().enumerate() {
                    let response = apply(&app, &mut model, step, op).await;
                    if let Some(errors) = response.get("errors") {
                        // Only a missing row may refuse a mutation here.
                        assert_eq!(
                            errors[0]["extensions"]["code"], "NOT_FOUND",
                            "{op:?}: {response}"
                        );
                    }
                    assert_eq!(read_back(&app).await, model, "after step {step}: {op:?}");
                    checked.set(checked.get() + 1);
                }
            });
            Ok(())
        })
        .unwrap();
    assert!(checked.get() > 0);
}

#[test]
fn random_mutation_sequences_leave_exactly_the_modelled_state_on_sqlite() {
    run(Backend::Sqlite, 40);
}

#[test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "set TEST_POSTGRES_URL to run on PostgreSQL"
)]
fn random_mutation_sequences_leave_exactly_the_modelled_state_on_postgres() {
    if let Some(backend) = Backend::postgres() {
        run(backend, 15);
    }
}

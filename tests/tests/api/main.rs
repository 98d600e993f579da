//! Integration tests: the real router over real databases. Each test runs on SQLite and, when
//! `TEST_POSTGRES_URL` is set, on PostgreSQL.

#[macro_use]
mod helpers;

mod auth;
mod concurrency;
mod fields;
mod filters;
mod fuzz;
mod hostile;
mod http;
mod limits;
mod lists;
mod migrations;
mod model;
mod mutations;
mod pagination;
mod persisted;
mod plans;
mod queries;
mod reader;
mod schema;
mod schema_docs;
mod server;
mod statements;
mod subscriptions;

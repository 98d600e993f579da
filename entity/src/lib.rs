//! SeaORM entities for the authors-and-books domain, and nothing else.
//!
//! Column names and types mirror the reference (docs/reference.md § Database schema); the tables
//! themselves are created by the `migration` crate, never from these definitions.

pub mod author;
pub mod book;

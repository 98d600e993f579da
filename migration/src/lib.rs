//! Schema migrations, applied in order by [`Migrator`].
//!
//! This crate does not depend on `entity`: a migration describes the schema as it was when it was
//! written, so it must not change when the entities do.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_author_and_book;
mod m20261203_000001_index_every_ordering;

/// Runs every migration of the service, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_author_and_book::Migration),
            Box::new(m20261203_000001_index_every_ordering::Migration),
        ]
    }
}

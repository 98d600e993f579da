//! The `author` and `book` tables of docs/reference.md § Database schema, the cascading foreign key and the
//! `idx_book_author_id` index.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // On MariaDB: 4-byte UTF-8 throughout, compared by code point as SQLite does (the
        // `contains` filter names its own collation).
        let table = || {
            let mut table = Table::create();
            if manager.get_database_backend() == DbBackend::MySql {
                table.character_set("utf8mb4").collate("utf8mb4_bin");
            }
            table
        };
        manager
            .create_table(
                table()
                    .table(Author::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Author::Id))
                    .col(string_len(Author::Name, 100))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                table()
                    .table(Book::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Book::Id))
                    .col(string_len(Book::Title, 200))
                    .col(integer_null(Book::PublishedYear))
                    .col(big_integer(Book::AuthorId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_book_author_id")
                            .from(Book::Table, Book::AuthorId)
                            .to(Author::Table, Author::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_book_author_id")
                    .table(Book::Table)
                    .col(Book::AuthorId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Book::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Author::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Author {
    Table,
    Id,
    Name,
}

#[derive(DeriveIden)]
enum Book {
    Table,
    Id,
    Title,
    PublishedYear,
    AuthorId,
}

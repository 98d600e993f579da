//! A book: the "many" side of the relation; it belongs to exactly one author.

use sea_orm::entity::prelude::*;

/// A row of the `book` table.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "book")]
pub struct Model {
    /// Auto-increment 64-bit primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The book's title, at most 200 characters.
    pub title: String,
    /// The year of publication, when known.
    pub published_year: Option<i32>,
    /// The author who wrote it; deleting the author deletes the book.
    pub author_id: i64,
}

/// A book belongs to one author.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::author::Entity",
        from = "Column::AuthorId",
        to = "super::author::Column::Id",
        on_delete = "Cascade"
    )]
    Author,
}

impl Related<super::author::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Author.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

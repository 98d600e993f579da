//! An author: the "one" side of the relation.

use sea_orm::entity::prelude::*;

/// A row of the `author` table.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "author")]
pub struct Model {
    /// Auto-increment 64-bit primary key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The author's name, at most 100 characters.
    pub name: String,
}

/// An author has many books.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::book::Entity")]
    Book,
}

impl Related<super::book::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Book.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

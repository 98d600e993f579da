//! Demo data for a fresh database: 40 authors (Unicode names among them) and about 300 books,
//! the same every time. It writes through the same store functions as the rest of the API.

use std::path::Path;

use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::{
    config::Config,
    domain::{AuthorName, BookTitle, PublishedYear},
    error::ApiResult,
    live::Changes,
    store::{self, author::AuthorFilter, book::NewBook},
};

const AUTHORS: [&str; 40] = [
    "Chinua Achebe",
    "Isabel Allende",
    "Margaret Atwood",
    "Jane Austen",
    "James Baldwin",
    "Jorge Luis Borges",
    "Italo Calvino",
    "Albert Camus",
    "Miguel de Cervantes",
    "Фёдор Достоевский",
    "George Eliot",
    "Gabriel García Márquez",
    "Johann Wolfgang von Goethe",
    "Nikolai Gogol",
    "Knut Hamsun",
    "Zora Neale Hurston",
    "Kazuo Ishiguro",
    "Franz Kafka",
    "Yasunari Kawabata",
    "Halldór Laxness",
    "Ursula K. Le Guin",
    "Astrid Lindgren",
    "Clarice Lispector",
    "نجيب محفوظ",
    "Toni Morrison",
    "村上春樹",
    "Vladimir Nabokov",
    "Ngũgĩ wa Thiong'o",
    "Orhan Pamuk",
    "Fernando Pessoa",
    "Marcel Proust",
    "José Saramago",
    "Wisława Szymborska",
    "Rabindranath Tagore",
    "Лев Толстой",
    "Olga Tokarczuk",
    "Mark Twain",
    "Sigrid Undset",
    "Virginia Woolf",
    "Émile Zola",
];

const ADJECTIVES: [&str; 12] = [
    "Silent", "Distant", "Burning", "Hidden", "Last", "Winter", "Golden", "Broken", "Quiet",
    "Restless", "Crimson", "Endless",
];
const NOUNS: [&str; 12] = [
    "River", "Garden", "Harbour", "Mountain", "City", "Letters", "Orchard", "Voyage", "House",
    "Season", "Lantern", "Bridge",
];

/// What [`seed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeded {
    /// The database already held authors; nothing was written.
    AlreadyPopulated,
    /// This many authors and books were written.
    Inserted { authors: usize, books: usize },
}

/// Fills an empty database with the demo data, in one transaction, through the same validation
/// and store functions as `createAuthor`.
///
/// # Errors
/// When the database fails; nothing is written then.
pub async fn seed(db: &DatabaseConnection) -> ApiResult<Seeded> {
    if store::author::count(db, &AuthorFilter::default()).await? > 0 {
        return Ok(Seeded::AlreadyPopulated);
    }
    let live = Changes::detached();
    let txn = db.begin().await?;
    let mut books = 0;
    for (i, name) in AUTHORS.iter().enumerate() {
        let name = AuthorName::parse("name", name)?;
        let new_books = (0..3 + (i * 7) % 10)
            .map(|j| demo_book(i, j))
            .collect::<ApiResult<Vec<NewBook>>>()?;
        books += store::author::create_with_books(&txn, &live, &name, &new_books)
            .await?
            .1
            .len();
    }
    txn.commit().await?;
    Ok(Seeded::Inserted {
        authors: AUTHORS.len(),
        books,
    })
}

/// Whether this start creates the database it will use, so that `serve` should fill it with the
/// demo data: only when the database URL was left at its default (neither flag nor variable) and
/// its SQLite file does not exist yet, and the migrations run at start. Asked before connecting,
/// which creates the file.
pub fn is_first_run(config: &Config) -> bool {
    config.database_url_is_default
        && !config.no_migrate
        && sqlite_file(&config.database_url).is_some_and(|file| !file.exists())
}

/// The file of a `sqlite:` URL; `None` for an in-memory database or another backend.
fn sqlite_file(url: &str) -> Option<&Path> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.starts_with(':')).then_some(Path::new(path))
}

/// The `j`-th book of the `i`-th author: a title from the word lists, a year between 1850 and
/// 2024, and now and then no year at all.
fn demo_book(i: usize, j: usize) -> ApiResult<NewBook> {
    let n = i * 31 + j * 17;
    let year = (!n.is_multiple_of(11)).then(|| 1850 + i32::try_from(n * 13 % 175).unwrap_or(0));
    let title = format!("The {} {}", ADJECTIVES[n % 12], NOUNS[(n / 12 + j) % 12]);
    Ok(NewBook {
        title: BookTitle::parse("title", &title)?,
        published_year: year
            .map(|y| PublishedYear::parse("publishedYear", y))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sqlite_file_has_a_path() {
        assert_eq!(
            sqlite_file("sqlite://authors.db?mode=rwc"),
            Some(Path::new("authors.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///tmp/a b.db"),
            Some(Path::new("/tmp/a b.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/db"), None);
    }
}

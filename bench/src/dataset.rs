//! The benchmark's catalogue: deterministic, shaped like a real one.
//!
//! Books arrive over time, each for a random author (`scattered`, the default), so one author's
//! books lie all over the table, as in a catalogue that grew; `clustered` stores each author's
//! books next to each other, as a bulk import would. Titles and names are made of words drawn
//! with a Zipf law from fixed lists, so some words are everywhere and most are rare, and a
//! two-word phrase matches a few books at any size. Years lean towards recent ones and one book
//! in twenty has none.

use std::collections::HashMap;

/// How books are spread over authors and over the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// Book `g` belongs to a random author: one author's books are spread over the table.
    Scattered,
    /// Each author's books are consecutive.
    Clustered,
}

const ADJECTIVES: [&str; 64] = [
    "silent",
    "last",
    "golden",
    "hidden",
    "winter",
    "lost",
    "broken",
    "quiet",
    "burning",
    "distant",
    "secret",
    "dark",
    "little",
    "long",
    "bright",
    "crimson",
    "endless",
    "restless",
    "northern",
    "forgotten",
    "wild",
    "empty",
    "sleeping",
    "iron",
    "silver",
    "bitter",
    "gentle",
    "hollow",
    "painted",
    "scarlet",
    "stolen",
    "wandering",
    "frozen",
    "ancient",
    "narrow",
    "shining",
    "velvet",
    "twelfth",
    "unfinished",
    "invisible",
    "drowned",
    "weeping",
    "glass",
    "paper",
    "amber",
    "copper",
    "orange",
    "salt",
    "midnight",
    "summer",
    "autumn",
    "savage",
    "tender",
    "crooked",
    "famous",
    "foreign",
    "green",
    "blue",
    "black",
    "white",
    "small",
    "great",
    "second",
    "other",
];

const NOUNS: [&str; 128] = [
    "river", "house", "garden", "city", "night", "sea", "road", "war", "light", "heart", "stone",
    "king", "island", "forest", "mountain", "letters", "harbour", "daughter", "shadow", "kingdom",
    "fire", "star", "storm", "bridge", "orchard", "voyage", "season", "lantern", "empire", "dream",
    "journey", "memory", "queen", "sister", "brother", "mother", "father", "child", "tree",
    "feast", "winter", "silence", "music", "song", "dance", "game", "door", "window", "wall",
    "tower", "castle", "village", "valley", "desert", "ocean", "lake", "field", "meadow", "rain",
    "snow", "wind", "sky", "moon", "sun", "dawn", "dusk", "hour", "year", "age", "world", "land",
    "country", "people", "stranger", "friend", "enemy", "soldier", "sailor", "thief", "doctor",
    "teacher", "painter", "poet", "widow", "bride", "prince", "spy", "witness", "pilgrim",
    "orphan", "keeper", "hunter", "angel", "ghost", "wolf", "bird", "horse", "raven", "fox",
    "tiger", "whale", "rose", "lily", "oak", "apple", "bread", "wine", "salt", "gold", "book",
    "map", "clock", "mirror", "key", "ring", "crown", "sword", "ship", "train", "machine", "code",
    "theory", "history", "question", "promise", "lie", "truth", "harvest",
];

const FIRST_NAMES: [&str; 48] = [
    "Anna", "Ben", "Clara", "David", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Karin",
    "Luca", "Mara", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera",
    "Walter", "Xenia", "Yusuf", "Zoe", "Amara", "Bruno", "Chiara", "Dmitri", "Esther", "Felix",
    "Grace", "Henrik", "Ida", "Jakob", "Kenji", "Lena", "Malik", "Nora", "Oscar", "Priya", "Ruth",
    "Samuel", "Tomas", "Ursula", "Victor", "Wanda",
];

const LAST_NAMES: [&str; 64] = [
    "Adler",
    "Berg",
    "Costa",
    "Dahl",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ivanova",
    "Jensen",
    "Klein",
    "Lopez",
    "Moreau",
    "Novak",
    "Olsen",
    "Petrov",
    "Quist",
    "Rossi",
    "Silva",
    "Torres",
    "Ueda",
    "Vogel",
    "Weber",
    "Young",
    "Zeller",
    "Achebe",
    "Bauer",
    "Castillo",
    "Dubois",
    "Ekwueme",
    "Ferrari",
    "Gonzalez",
    "Horvat",
    "Ibrahim",
    "Janssen",
    "Kowalski",
    "Lindqvist",
    "Murphy",
    "Nakamura",
    "Okafor",
    "Popescu",
    "Ramos",
    "Schmidt",
    "Tanaka",
    "Urquhart",
    "Varga",
    "Wagner",
    "Xavier",
    "Yilmaz",
    "Zhang",
    "Almeida",
    "Brennan",
    "Conti",
    "Duarte",
    "Esposito",
    "Fontaine",
    "Gallagher",
    "Haddad",
    "Iversen",
    "Jovanovic",
    "Kaur",
    "Laurent",
    "Mendes",
    "Nielsen",
];

/// A deterministic stream of pseudo-random numbers (SplitMix64).
pub struct Random(u64);

impl Random {
    /// The stream for one seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number.
    pub fn draw(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.draw() % n
    }

    /// A uniform number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.draw() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Picks index `r` of a list of `n` with weight `1 / (r + 1)` (Zipf's law).
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|r| {
                total += 1.0 / r as f64;
                total
            })
            .collect::<Vec<_>>();
        Self(cumulative.into_iter().map(|c| c / total).collect())
    }

    fn pick<'a>(&self, words: &[&'a str], random: &mut Random) -> &'a str {
        let u = random.unit();
        let index = self.0.partition_point(|c| *c < u).min(words.len() - 1);
        words[index]
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// One book of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    /// Its title: words.
    pub title: String,
    /// Its year, 1850–2024, recent years likelier; `None` for one in twenty.
    pub published_year: Option<i32>,
    /// Its author, `1..=authors`.
    pub author_id: i64,
}

/// The catalogue of `authors` authors and `books` books in `layout`.
pub struct Catalogue {
    authors: u32,
    books: u32,
    layout: Layout,
    adjectives: Zipf,
    nouns: Zipf,
}

impl Catalogue {
    /// The catalogue's shape.
    #[must_use]
    pub fn new(authors: u32, books: u32, layout: Layout) -> Self {
        Self {
            authors: authors.max(1),
            books,
            layout,
            adjectives: Zipf::new(ADJECTIVES.len()),
            nouns: Zipf::new(NOUNS.len()),
        }
    }

    /// The name of author `a` (1-based): a first and a last name, repeated as in real life.
    #[must_use]
    pub fn author_name(&self, a: u32) -> String {
        let mut random = Random::new(u64::from(a) ^ 0xA5A5_0000);
        let first = FIRST_NAMES[random.below(FIRST_NAMES.len() as u64) as usize];
        let last = LAST_NAMES[random.below(LAST_NAMES.len() as u64) as usize];
        format!("{first} {last}")
    }

    /// Book `g` (0-based), in the order books arrive.
    #[must_use]
    pub fn book(&self, g: u32) -> Book {
        let mut random = Random::new(u64::from(g));
        let author = match self.layout {
            Layout::Scattered => random.below(u64::from(self.authors)),
            Layout::Clustered => {
                u64::from(g) * u64::from(self.authors) / u64::from(self.books.max(1))
            }
        };
        let mut adjective = || capitalised(self.adjectives.pick(&ADJECTIVES, &mut random));
        let a1 = adjective();
        let a2 = adjective();
        let mut noun = || capitalised(self.nouns.pick(&NOUNS, &mut random));
        let n1 = noun();
        let n2 = noun();
        let title = match random.below(6) {
            0 => format!("The {a1} {n1}"),
            1 => format!("{n1} of {n2}"),
            2 => format!("The {n1} of the {a1} {n2}"),
            3 => format!("A {n1} for the {n2}"),
            4 => format!("{a1} {n1} and {a2} {n2}"),
            _ => format!("{a1} {n1}"),
        };
        let published_year = (random.below(20) != 0).then(|| {
            let age = (random.unit() * random.unit() * 175.0) as i32;
            2024 - age
        });
        Book {
            title,
            published_year,
            author_id: i64::try_from(author).unwrap_or(0) + 1,
        }
    }

    /// Every book, in arrival order.
    pub fn books(&self) -> impl Iterator<Item = Book> + '_ {
        (0..self.books).map(|g| self.book(g))
    }

    /// Two-word phrases ("silent river") with how many titles hold them, the rarest first:
    /// candidates for a search term that matches a few books. A title may also hold a phrase
    /// inside longer words, so the caller counts the matches in the database.
    #[must_use]
    pub fn phrases(&self) -> Vec<(String, u32)> {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for book in self.books() {
            let lower = book.title.to_lowercase();
            let words: Vec<&str> = lower.split(' ').collect();
            let mut seen = Vec::new();
            for pair in words.windows(2) {
                if ADJECTIVES.contains(&pair[0]) && pair[1] != "of" && pair[1] != "and" {
                    let phrase = format!("{} {}", pair[0], pair[1]);
                    if !seen.contains(&phrase) {
                        seen.push(phrase);
                    }
                }
            }
            for phrase in seen {
                *counts.entry(phrase).or_default() += 1;
            }
        }
        let mut phrases: Vec<(String, u32)> = counts.into_iter().collect();
        phrases.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        phrases
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_the_same_every_time_and_scatters_an_authors_books() {
        let catalogue = Catalogue::new(100, 1_000, Layout::Scattered);
        let again = Catalogue::new(100, 1_000, Layout::Scattered);
        assert!(catalogue.books().eq(again.books()));
        let firsts: Vec<i64> = catalogue.books().take(10).map(|b| b.author_id).collect();
        assert!(firsts.windows(2).any(|w| w[0] != w[1]), "{firsts:?}");
        let clustered = Catalogue::new(100, 1_000, Layout::Clustered);
        let ids: Vec<i64> = clustered.books().map(|b| b.author_id).collect();
        assert!(ids.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!((ids[0], ids[999]), (1, 100));
    }

    #[test]
    fn some_phrase_matches_fifty_to_two_hundred_books_at_every_size() {
        for books in [10_000, 100_000] {
            let catalogue = Catalogue::new(books / 10, books, Layout::Scattered);
            assert!(
                catalogue
                    .phrases()
                    .iter()
                    .any(|(_, n)| (50..=200).contains(n)),
                "{books} books"
            );
        }
    }
}

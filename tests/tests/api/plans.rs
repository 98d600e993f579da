//! Every ordering and filter is served by an index (PostgreSQL): on 100,000 books and 100,000
//! authors, the statements a request runs are read back with `EXPLAIN ANALYZE`, once as
//! PostgreSQL plans them for the values at hand and once as the generic plan it may cache for a
//! prepared statement after a few runs (sqlx prepares every statement). Neither may scan `book`
//! or `author` sequentially, and the rows they read must stay within what the page returns:
//! reading along an index to the cursor, or sorting a whole table, would read thousands.

use std::sync::{Arc, Mutex};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait, Value as Sql};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, send_graphql};

/// One in this many books has the word of [`SEARCHED`] in its title (100 of 100,000).
const SEARCHED_EVERY: i64 = 1_000;
const SEARCHED: &str = "zephyr";

/// 100,000 authors and 100,000 books. Book `g`'s author is a random one of the first 10,000, so
/// an author's books lie all over the table; titles are pairs of words, so titles repeat and ties
/// are common. (On 10,000 authors PostgreSQL rightly prefers to scan them all for a name search:
/// a table that small is cheaper to read than the index.)
const LOAD: &str = "
INSERT INTO author (name)
SELECT (ARRAY['Anna','Ben','Clara','David','Elena','Farid','Greta','Hugo','Ines','Jonas'])[1 + g % 10]
       || ' ' || (ARRAY['Adler','Berg','Costa','Dahl','Eriksen','Fischer','Garcia','Hansen'])[1 + (g / 10) % 8]
       || CASE WHEN g % 1000 = 0 THEN ' Zephyrine' ELSE '' END
FROM generate_series(1, 100000) AS g;
INSERT INTO book (title, published_year, author_id)
SELECT w[1 + (hashint4(g) & 2147483647) % 20] || ' ' || w[1 + (hashint4(g + 1) & 2147483647) % 20]
       || CASE WHEN g % 1000 = 0 THEN ' Zephyr' ELSE '' END
       || CASE WHEN g % 2000 = 1 THEN ' 50%_\\off' ELSE '' END,
       CASE WHEN g % 20 = 0 THEN NULL ELSE 1850 + (hashint4(g + 2) & 2147483647) % 175 END,
       1 + (hashint4(g + 3) & 2147483647) % 10000
FROM generate_series(1, 100000) AS g,
     (SELECT ARRAY['River','House','Garden','City','Night','Sea','Road','War','Light','Heart',
                   'Stone','King','Island','Forest','Silent','Last','Golden','Hidden','Winter',
                   'Lost'] AS w) AS words;
ANALYZE;
";

/// What the statements of a request read, over both plans of each.
#[derive(Debug, Default)]
struct Reads {
    /// Rows read from `book` and `author`, the most of any one plan.
    rows: f64,
    /// The indexes the custom plans used, and those the generic plans used.
    indexes: [Vec<String>; 2],
    /// `EXPLAIN` of every plan, for the failure message.
    plans: Vec<Value>,
}

/// The app over a freshly loaded catalogue, and a router whose statements are recorded.
struct Catalogue {
    app: TestApp,
    recorded: Arc<Mutex<Vec<Statement>>>,
    router: axum::Router,
}

impl Catalogue {
    async fn load(backend: Backend, sql: &str) -> Self {
        let app = TestApp::spawn(backend).await;
        app.db
            .execute_unprepared(sql)
            .await
            .expect("the catalogue loads");
        Self::over(app)
    }

    /// The catalogue of `app`, already loaded.
    fn over(app: TestApp) -> Self {
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let mut db = app.db.clone();
        let sink = Arc::clone(&recorded);
        db.set_metric_callback(move |info| {
            sink.lock().unwrap().push(info.statement.clone());
        });
        let router = app.router_over(db);
        Self {
            app,
            recorded,
            router,
        }
    }

    async fn graphql(&self, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables });
        let (_, response) = send_graphql(self.router.clone(), body).await;
        assert!(response.get("errors").is_none(), "{query}: {response}");
        response["data"].clone()
    }

    /// Runs `query` and returns its statements.
    async fn statements(&self, query: &str, variables: Value) -> Vec<Statement> {
        self.recorded.lock().unwrap().clear();
        self.graphql(query, variables).await;
        std::mem::take(&mut *self.recorded.lock().unwrap())
    }

    /// Runs `query` and explains each of its statements in both plans.
    async fn reads(&self, query: &str, variables: Value) -> Reads {
        let statements = self.statements(query, variables).await;
        assert!(!statements.is_empty(), "{query} ran no statement");
        let mut reads = Reads::default();
        for statement in &statements {
            for (mode, plan) in explain(&self.app.db, statement)
                .await
                .into_iter()
                .enumerate()
            {
                let mut rows = 0.0;
                walk(&plan[0]["Plan"], &mut rows, &mut reads.indexes[mode], query);
                reads.rows = reads.rows.max(rows);
                reads.plans.push(plan);
            }
        }
        reads
    }
}

/// `EXPLAIN (ANALYZE)` of `statement` with its values, as a custom and as a generic plan.
async fn explain(db: &DatabaseConnection, statement: &Statement) -> [Value; 2] {
    let values = statement.values.as_ref().map_or(&[][..], |v| &v.0[..]);
    let types: Vec<&str> = values.iter().map(pg_type).collect();
    let arguments: Vec<String> = values.iter().map(literal).collect();
    let prepare = if types.is_empty() {
        format!("PREPARE probe AS {}", statement.sql)
    } else {
        format!("PREPARE probe ({}) AS {}", types.join(", "), statement.sql)
    };
    let execute = if arguments.is_empty() {
        "EXECUTE probe".to_owned()
    } else {
        format!("EXECUTE probe ({})", arguments.join(", "))
    };
    // One connection: a prepared statement and a setting belong to the session.
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared(&prepare)
        .await
        .unwrap_or_else(|e| panic!("{prepare}: {e}"));
    let mut plans = Vec::new();
    for mode in ["force_custom_plan", "force_generic_plan"] {
        txn.execute_unprepared(&format!("SET LOCAL plan_cache_mode = {mode}"))
            .await
            .unwrap();
        let sql = format!("EXPLAIN (ANALYZE, FORMAT JSON) {execute}");
        let row = txn
            .query_one_raw(Statement::from_string(txn.get_database_backend(), &sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .expect("a plan");
        plans.push(row.try_get::<Value>("", "QUERY PLAN").unwrap());
    }
    // A prepared statement outlives the transaction.
    txn.execute_unprepared("DEALLOCATE probe").await.unwrap();
    txn.rollback().await.unwrap();
    plans.try_into().unwrap()
}

fn pg_type(value: &Sql) -> &'static str {
    match value {
        Sql::Int(_) => "integer",
        Sql::BigInt(_) | Sql::BigUnsigned(_) | Sql::Unsigned(_) => "bigint",
        Sql::String(_) => "text",
        other => panic!("no PostgreSQL type for {other:?}"),
    }
}

fn literal(value: &Sql) -> String {
    match value {
        Sql::Int(Some(v)) => v.to_string(),
        Sql::BigInt(Some(v)) => v.to_string(),
        Sql::BigUnsigned(Some(v)) => v.to_string(),
        Sql::Unsigned(Some(v)) => v.to_string(),
        Sql::String(Some(v)) => format!("'{}'", v.replace('\'', "''")),
        other => panic!("no literal for {other:?}"),
    }
}

/// Adds the rows each scan of `book` or `author` in `node` read (returned, filtered out, or
/// rechecked, times its loops) to `rows`, and the indexes it used to `indexes`; fails on a
/// sequential scan of either table.
fn walk(node: &Value, rows: &mut f64, indexes: &mut Vec<String>, query: &str) {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    if let Some(index) = node["Index Name"].as_str() {
        indexes.push(index.to_owned());
    }
    if let Some(table @ ("book" | "author")) = node["Relation Name"].as_str() {
        assert_ne!(kind, "Seq Scan", "{query} scans {table}: {node:#}");
        let count = |key: &str| node[key].as_f64().unwrap_or(0.0);
        *rows += (count("Actual Rows")
            + count("Rows Removed by Filter")
            + count("Rows Removed by Index Recheck"))
            * count("Actual Loops").max(1.0);
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        walk(child, rows, indexes, query);
    }
}

/// Asserts that `query` reads at most `most` rows in either plan and, if `index` is given, uses
/// it in both.
async fn assert_reads(
    catalogue: &Catalogue,
    query: &str,
    variables: Value,
    most: f64,
    index: &str,
) {
    let reads = catalogue.reads(query, variables).await;
    assert!(
        reads.rows <= most,
        "{query} read {} rows (at most {most}): {:#}",
        reads.rows,
        Value::from(reads.plans)
    );
    for (plan, used) in ["custom", "generic"].iter().zip(&reads.indexes) {
        assert!(
            index.is_empty() || used.iter().any(|name| name == index),
            "the {plan} plans of {query} did not use {index}: {used:?}"
        );
    }
}

/// The cursor after `pages` pages of `query` (a connection at `field`), walked from the start.
async fn cursor_after(catalogue: &Catalogue, query: &str, field: &str, pages: usize) -> Value {
    let mut cursor = Value::Null;
    for _ in 0..pages {
        let data = catalogue.graphql(query, json!({ "c": cursor })).await;
        cursor = data[field]["pageInfo"]["endCursor"].clone();
        assert!(cursor.is_string(), "{data}");
    }
    cursor
}

async fn every_ordering_filter_and_deep_page_reads_only_what_it_returns(admin_url: String) {
    // Arrange
    let catalogue = Catalogue::load(Backend::Postgres(admin_url), LOAD).await;
    let directions = ["ASC", "DESC"];

    // Act and assert: each single-key ordering at the root reads one page along its index.
    for field in ["ID", "TITLE", "PUBLISHED_YEAR"] {
        for direction in directions {
            let query = format!(
                "{{ books(first: 20, orderBy: [{{ field: {field}, direction: {direction} }}]) {{ nodes {{ id }} }} }}"
            );
            assert_reads(&catalogue, &query, json!({}), 21.0, "").await;
        }
    }
    for field in ["ID", "NAME"] {
        for direction in directions {
            let query = format!(
                "{{ authors(first: 20, orderBy: [{{ field: {field}, direction: {direction} }}]) {{ nodes {{ id }} }} }}"
            );
            assert_reads(&catalogue, &query, json!({}), 21.0, "").await;
        }
    }

    // Newest first, then by title: one index read too, the year negated (`0 - year ASC`).
    let newest = "{ books(first: 20, orderBy: [{ field: PUBLISHED_YEAR, direction: DESC }, { field: TITLE }]) { nodes { id } } }";
    assert_reads(&catalogue, newest, json!({}), 21.0, "idx_book_year_title").await;

    // Per author: 20 authors, each page of 5 cut at 6 rows along (author_id, <key>, id).
    for field in ["ID", "TITLE", "PUBLISHED_YEAR"] {
        for direction in directions {
            let query = format!(
                "{{ authors(first: 20) {{ nodes {{ books(first: 5, orderBy: [{{ field: {field}, direction: {direction} }}]) {{ nodes {{ id }} }} }} }} }}"
            );
            assert_reads(&catalogue, &query, json!({}), 21.0 + 20.0 * 6.0, "").await;
        }
    }

    // Page 50 costs what page 2 costs: the cursor is a range the index seeks to.
    let by_name = "query($c: String) { authors(first: 20, after: $c, orderBy: [{ field: NAME }]) {
        nodes { id } pageInfo { endCursor } } }";
    let cursor = cursor_after(&catalogue, by_name, "authors", 49).await;
    assert_reads(
        &catalogue,
        by_name,
        json!({ "c": cursor }),
        21.0,
        "idx_author_name",
    )
    .await;
    let by_year = "query($c: String) { books(first: 20, after: $c, orderBy: [{ field: PUBLISHED_YEAR, direction: DESC }]) {
        nodes { id } pageInfo { endCursor } } }";
    let cursor = cursor_after(&catalogue, by_year, "books", 49).await;
    assert_reads(
        &catalogue,
        by_year,
        json!({ "c": cursor }),
        21.0,
        "idx_book_year",
    )
    .await;

    let newest = "query($c: String) { books(first: 20, after: $c, orderBy: [{ field: PUBLISHED_YEAR, direction: DESC }, { field: TITLE }]) {
        nodes { id } pageInfo { endCursor } } }";
    let cursor = cursor_after(&catalogue, newest, "books", 49).await;
    assert_reads(
        &catalogue,
        newest,
        json!({ "c": cursor }),
        21.0,
        "idx_book_year_title",
    )
    .await;

    // A search and its exact count read the rows the trigram index finds, not the table.
    let search = "query($t: String) { books(first: 10, filter: { titleContains: $t }, orderBy: [{ field: TITLE }]) {
        totalCount nodes { title } } }";
    let found = catalogue.graphql(search, json!({ "t": SEARCHED })).await;
    assert_eq!(found["books"]["totalCount"], 100_000 / SEARCHED_EVERY);
    assert_reads(
        &catalogue,
        search,
        json!({ "t": SEARCHED }),
        300.0,
        "idx_book_title_trgm",
    )
    .await;
    // So does a term of punctuation alone, which `pg_trgm` ignores: the partial index of the
    // titles that hold punctuation has it folded into letters.
    let symbols = json!({ "t": "%_\\" });
    let found = catalogue.graphql(search, symbols.clone()).await;
    assert_eq!(found["books"]["totalCount"], 50, "{found}");
    assert!(
        found["books"]["nodes"][0]["title"]
            .as_str()
            .unwrap()
            .ends_with(" 50%_\\off")
    );
    assert_reads(&catalogue, search, symbols, 300.0, "idx_book_title_symbols").await;
    let authors =
        "{ authors(first: 10, filter: { nameContains: \"zephyrin\" }, orderBy: [{ field: NAME }]) {
        totalCount nodes { name } } }";
    let found = catalogue.graphql(authors, json!({})).await;
    assert_eq!(found["authors"]["totalCount"], 100);
    assert_reads(
        &catalogue,
        authors,
        json!({}),
        300.0,
        "idx_author_name_trgm",
    )
    .await;

    // A year range and its count read the years' rows through the year index. (In another
    // ordering, PostgreSQL's estimates choose between that ordering's index and this one.)
    let years = "{ books(first: 10, filter: { publishedYearFrom: 2001, publishedYearTo: 2001 }, orderBy: [{ field: PUBLISHED_YEAR }]) {
        totalCount nodes { id } } }";
    let found = catalogue.graphql(years, json!({})).await;
    let in_2001 = catalogue
        .app
        .scalar("SELECT COUNT(*) AS n FROM book WHERE published_year = 2001")
        .await;
    assert_eq!(found["books"]["totalCount"], in_2001);
    assert_reads(
        &catalogue,
        years,
        json!({}),
        1.5 * in_2001 as f64,
        "idx_book_year",
    )
    .await;
}

on_every_backend!(postgres_only: every_ordering_filter_and_deep_page_reads_only_what_it_returns);

/// The same catalogue's shape on SQLite, which has no generate_series and no hash function.
const SQLITE_LOAD: &str = "
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 10000)
INSERT INTO author (name) SELECT 'Author ' || ((n * 7) % 1000) FROM g;
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 100000)
INSERT INTO book (title, published_year, author_id)
SELECT 'Title ' || ((n * 37) % 1000), CASE WHEN n % 20 = 0 THEN NULL ELSE 1850 + (n * 13) % 175 END,
       (n * 7919) % 10000 + 1
FROM g;
ANALYZE;
";

/// The deep pages whose plans the SQLite and MariaDB tests read: a list, its ordering, and the
/// index that ordering must seek.
const DEEP_PAGES: [(&str, &str, &str); 3] = [
    ("authors", "[{ field: NAME }]", "idx_author_name"),
    (
        "books",
        "[{ field: PUBLISHED_YEAR, direction: DESC }]",
        "idx_book_year",
    ),
    (
        "books",
        "[{ field: PUBLISHED_YEAR, direction: DESC }, { field: TITLE }]",
        "idx_book_year_title",
    ),
];

/// A page of `list` in `order_by` after the cursor `$c`.
fn deep_page(list: &str, order_by: &str) -> String {
    format!(
        "query($c: String) {{ {list}(first: 20, after: $c, orderBy: {order_by}) {{ nodes {{ id }} pageInfo {{ endCursor }} }} }}"
    )
}

/// Each of 20 authors' first 5 books by `field`, newest first.
fn nested_books(field: &str) -> String {
    format!(
        "{{ authors(first: 20) {{ nodes {{ books(first: 5, orderBy: [{{ field: {field}, direction: DESC }}]) {{ nodes {{ id }} }} }} }} }}"
    )
}

/// SQLite's `EXPLAIN QUERY PLAN` of every statement `query` runs, one line per step.
async fn sqlite_plan(catalogue: &Catalogue, query: &str, variables: Value) -> Vec<String> {
    explained(catalogue, query, variables, "EXPLAIN QUERY PLAN")
        .await
        .iter()
        .map(|row| row.try_get::<String>("", "detail").unwrap())
        .collect()
}

/// The rows of `explain` (the backend's EXPLAIN keywords) before every statement `query` runs.
async fn explained(
    catalogue: &Catalogue,
    query: &str,
    variables: Value,
    explain: &str,
) -> Vec<sea_orm::QueryResult> {
    let mut rows = Vec::new();
    for statement in catalogue.statements(query, variables).await {
        let explain = Statement::from_sql_and_values(
            statement.db_backend,
            format!("{explain} {}", statement.sql),
            statement
                .values
                .clone()
                .map_or_else(Vec::new, |values| values.0),
        );
        rows.extend(catalogue.app.db.query_all_raw(explain).await.unwrap());
    }
    rows
}

/// On SQLite every ordering at the root is read along its index, never sorted, and a deep page
/// seeks its index to the cursor; per author, the authors' own rows are found through
/// `author_id` and sorted. (Searches read every row on SQLite: see the README.)
#[tokio::test]
async fn sqlite_reads_every_ordering_along_its_index() {
    let catalogue = Catalogue::load(Backend::Sqlite, SQLITE_LOAD).await;
    // `SCAN book` alone reads the table in rowid (id) order; without a temporary B-tree to sort
    // it, that is the id ordering stopping after its page.
    let sorts = |line: &String| line.contains("TEMP B-TREE");

    let roots = [
        ("books", "ID"),
        ("books", "TITLE"),
        ("books", "PUBLISHED_YEAR"),
        ("authors", "ID"),
        ("authors", "NAME"),
    ];
    for (list, field) in roots {
        for direction in ["ASC", "DESC"] {
            let query = format!(
                "{{ {list}(first: 20, orderBy: [{{ field: {field}, direction: {direction} }}]) {{ nodes {{ id }} }} }}"
            );
            let plan = sqlite_plan(&catalogue, &query, json!({})).await;
            assert!(
                !plan.is_empty() && !plan.iter().any(sorts),
                "{query}: {plan:?}"
            );
        }
    }
    for field in ["ID", "TITLE", "PUBLISHED_YEAR"] {
        let query = nested_books(field);
        let plan = sqlite_plan(&catalogue, &query, json!({})).await;
        assert!(
            plan.iter().any(|l| l.contains("(author_id=?)")),
            "{query}: {plan:?}"
        );
    }
    for (list, order_by, index) in DEEP_PAGES {
        let query = deep_page(list, order_by);
        let cursor = cursor_after(&catalogue, &query, list, 49).await;
        let plan = sqlite_plan(&catalogue, &query, json!({ "c": cursor })).await;
        assert!(
            plan.iter().any(
                |l| l.starts_with(&format!("SEARCH {}", &list[..list.len() - 1]))
                    && l.contains(index)
            ),
            "{query} does not seek {index}: {plan:?}"
        );
    }
}

/// The catalogue's shape on MariaDB: the recursive CTEs of SQLite's, with `CONCAT`.
const MARIADB_LOAD: [&str; 3] = [
    "SET STATEMENT max_recursive_iterations = 1000000 FOR INSERT INTO author (name)
     WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 10000)
     SELECT CONCAT('Author ', (n * 7) % 1000) FROM g",
    "SET STATEMENT max_recursive_iterations = 1000000 FOR
     INSERT INTO book (title, published_year, author_id)
     WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 100000)
     SELECT CONCAT('Title ', (n * 37) % 1000), CASE WHEN n % 20 = 0 THEN NULL ELSE 1850 + (n * 13) % 175 END,
            (n * 7919) % 10000 + 1
     FROM g",
    "ANALYZE TABLE author, book",
];

/// One row of MariaDB's `EXPLAIN` of every statement `query` runs: the table, the access type,
/// the index and the extra notes.
async fn mariadb_plan(catalogue: &Catalogue, query: &str, variables: Value) -> Vec<String> {
    let rows = explained(catalogue, query, variables, "EXPLAIN").await;
    rows.iter()
        .map(|row| {
            let text = |column: &str| {
                row.try_get::<Option<String>>("", column)
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            };
            format!(
                "table={} type={} key={} extra={}",
                text("table"),
                text("type"),
                text("key"),
                text("Extra")
            )
        })
        .collect()
}

/// On MariaDB every ordering at the root is read along its index, never sorted ("Using
/// filesort"), and a deep page is a range read of the ordering's index from the cursor; per
/// author, the books are found through `author_id`. (Searches read along the ordering and test
/// every row: MariaDB has no index for them; see docs/reference.md.)
async fn every_ordering_reads_along_its_index_on_mariadb(admin_url: String) {
    let app = TestApp::spawn(Backend::Mysql(admin_url)).await;
    for statement in MARIADB_LOAD {
        app.db
            .execute_unprepared(statement)
            .await
            .expect("the catalogue loads");
    }
    let catalogue = Catalogue::over(app);
    let sorts = |line: &String| line.contains("filesort");

    let roots = [
        ("books", "ID", ""),
        ("books", "TITLE", "idx_book_title"),
        ("books", "PUBLISHED_YEAR", "idx_book_year"),
        ("authors", "ID", ""),
        ("authors", "NAME", "idx_author_name"),
    ];
    for (list, field, index) in roots {
        for direction in ["ASC", "DESC"] {
            let query = format!(
                "{{ {list}(first: 20, orderBy: [{{ field: {field}, direction: {direction} }}]) {{ nodes {{ id }} }} }}"
            );
            let plan = mariadb_plan(&catalogue, &query, json!({})).await;
            assert!(
                !plan.is_empty()
                    && !plan.iter().any(sorts)
                    && plan.iter().any(|l| l.contains(index)),
                "{query}: {plan:?}"
            );
        }
    }
    let mixed = "{ books(first: 20, orderBy: [{ field: PUBLISHED_YEAR, direction: DESC }, { field: TITLE }]) { nodes { id } } }";
    let plan = mariadb_plan(&catalogue, mixed, json!({})).await;
    assert!(
        !plan.iter().any(sorts) && plan.iter().any(|l| l.contains("idx_book_year_title")),
        "{mixed}: {plan:?}"
    );
    for field in ["ID", "TITLE", "PUBLISHED_YEAR"] {
        let query = nested_books(field);
        let plan = mariadb_plan(&catalogue, &query, json!({})).await;
        assert!(
            plan.iter()
                .any(|l| l.starts_with("table=book") && l.contains("key=idx_book_author")),
            "{query}: {plan:?}"
        );
    }
    for (list, order_by, index) in DEEP_PAGES {
        let query = deep_page(list, order_by);
        let cursor = cursor_after(&catalogue, &query, list, 49).await;
        let plan = mariadb_plan(&catalogue, &query, json!({ "c": cursor })).await;
        assert!(
            plan.iter()
                .any(|l| l.contains("type=range") && l.contains(&format!("key={index} "))),
            "{query} does not seek {index}: {plan:?}"
        );
    }
}

on_every_backend!(mariadb_only: every_ordering_reads_along_its_index_on_mariadb);

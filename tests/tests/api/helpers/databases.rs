//! Databases that live as long as a test: a SQLite file, a PostgreSQL or MariaDB database.

use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Database};

/// A uniquely named file in the temporary directory, removed (with SQLite's companions) on drop.
pub struct TempFile(pub std::path::PathBuf);

impl TempFile {
    pub fn new(extension: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "api_test_{}_{}.{extension}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self(std::env::temp_dir().join(name))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A uniquely named PostgreSQL or MariaDB database, dropped when the test ends (even by
/// panicking).
pub struct TempDatabase {
    admin_url: String,
    name: String,
}

impl TempDatabase {
    pub async fn create(admin_url: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "api_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = Database::connect(admin_url)
            .await
            .unwrap_or_else(|err| panic!("the test server at {admin_url} is unreachable: {err}"));
        let create = if is_mysql(admin_url) {
            format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        } else {
            format!("CREATE DATABASE \"{name}\"")
        };
        admin
            .execute_unprepared(&create)
            .await
            .expect("create the test database");
        admin.close().await.ok();
        Self {
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    /// The database's URL, or through `port` on 127.0.0.1 instead of the server's own address.
    pub fn url(&self, port: Option<u16>) -> String {
        let base = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(base, _)| base);
        let base = match (port, base.rsplit_once('@')) {
            (Some(port), Some((credentials, _))) => format!("{credentials}@127.0.0.1:{port}"),
            _ => base.to_owned(),
        };
        match port {
            // Through the proxy in plain text, so that it can see which statement passes.
            Some(_) if !is_mysql(&self.admin_url) => {
                format!("{base}/{}?sslmode=disable", self.name)
            }
            Some(_) => format!("{base}/{}?ssl-mode=disabled", self.name),
            None => format!("{base}/{}", self.name),
        }
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = if is_mysql(&admin_url) {
            format!("DROP DATABASE IF EXISTS `{}`", self.name)
        } else {
            format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)
        };
        // Drop runs outside any async context we can block on, so use a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let admin = Database::connect(&admin_url).await?;
                admin.execute_unprepared(&sql).await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// Whether `url` names a MariaDB (MySQL) server.
fn is_mysql(url: &str) -> bool {
    url.starts_with("mysql://") || url.starts_with("mariadb://")
}

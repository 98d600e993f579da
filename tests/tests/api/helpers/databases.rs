//! Databases that live as long as a test: a SQLite file, a PostgreSQL database.

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

/// A uniquely named PostgreSQL database, dropped when the test ends (even by panicking).
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
        let admin = Database::connect(admin_url).await.unwrap_or_else(|err| {
            panic!("TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {err}")
        });
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
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
            Some(_) => format!("{base}/{}?sslmode=disable", self.name),
            None => format!("{base}/{}", self.name),
        }
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
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

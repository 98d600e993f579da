//! PostgreSQL and MariaDB tests are compiled as ignored unless `TEST_POSTGRES_URL` or
//! `TEST_MYSQL_URL` is set, so that a plain `cargo test` says it skipped them instead of
//! reporting them as passed.

fn main() {
    for (cfg, variable) in [
        ("postgres_tests", "TEST_POSTGRES_URL"),
        ("mysql_tests", "TEST_MYSQL_URL"),
        ("replica_tests", "TEST_POSTGRES_REPLICA_URL"),
        ("pgbouncer_tests", "TEST_PGBOUNCER_URL"),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-env-changed={variable}");
        if std::env::var_os(variable).is_some() {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}

//! PostgreSQL tests are compiled as ignored unless `TEST_POSTGRES_URL` is set, so that a plain
//! `cargo test` says it skipped them instead of reporting them as passed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=TEST_POSTGRES_URL");
    if std::env::var_os("TEST_POSTGRES_URL").is_some() {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}

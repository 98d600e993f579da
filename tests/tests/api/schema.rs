//! `schema.graphql` at the root of the repository is the live schema, character for character.

#[test]
fn schema_graphql_matches_the_live_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let live = api::graphql::schema_builder().finish().sdl();
    let checked_in = std::fs::read_to_string(path)
        .unwrap_or_default()
        .replace("\r\n", "\n");
    if checked_in != live {
        let diff = similar::TextDiff::from_lines(&checked_in, &live);
        panic!(
            "schema.graphql differs from the live schema: run \
             `cargo run -p api -- print-schema > schema.graphql` and commit the result.\n{}",
            diff.unified_diff()
                .context_radius(2)
                .header("schema.graphql", "live schema")
        );
    }
}

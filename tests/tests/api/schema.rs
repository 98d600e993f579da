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

/// The SDL a user reads in `docs/reference.md` § Schema is `schema.graphql`, character for
/// character (and so the live schema).
#[test]
fn the_reference_shows_schema_graphql() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let read = |path: &str| {
        std::fs::read_to_string(format!("{root}/{path}"))
            .unwrap_or_else(|error| panic!("{path}: {error}"))
            .replace("\r\n", "\n")
    };
    let reference = read("docs/reference.md");
    let schema = read("schema.graphql");
    let blocks: Vec<&str> = reference
        .split("```graphql\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap_or_default())
        .collect();
    assert_eq!(blocks.len(), 1, "one SDL block in docs/reference.md");
    if blocks[0] != schema {
        let diff = similar::TextDiff::from_lines(blocks[0], &schema);
        panic!(
            "the SDL in docs/reference.md differs from schema.graphql: copy schema.graphql into \
             its ```graphql block.\n{}",
            diff.unified_diff()
                .context_radius(2)
                .header("docs/reference.md", "schema.graphql")
        );
    }
}

//! The committed `schema.graphql` is the schema the code builds.

#[test]
fn schema_graphql_is_up_to_date() {
    let built = maestro::graphql::schema::sdl();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql exists");
    assert!(
        committed == built,
        "schema.graphql is stale: run `cargo run -- print-schema > schema.graphql`"
    );
}

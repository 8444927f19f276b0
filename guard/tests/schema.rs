//! `policies/schema.json` is generated from the wire types; this test fails if it is stale.
//! Regenerate with `UPDATE_SCHEMA=1 cargo test -p palisade-guard --test schema`.

use std::path::PathBuf;

#[test]
fn committed_schema_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/schema.json");
    let mut fresh = serde_json::to_string_pretty(&palisade_guard::policy::json_schema())
        .expect("schema serialises");
    fresh.push('\n');
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &fresh).expect("write schema");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "policies/schema.json is stale: run `UPDATE_SCHEMA=1 cargo test -p palisade-guard --test schema`"
    );
}

#[test]
fn schema_describes_rules_and_rejects_unknown_keys() {
    let schema = palisade_guard::policy::json_schema();
    let text = schema.to_string();
    for needle in [
        "\"additionalProperties\":false",
        "instruction_override",
        "credit_card",
        "whole_word",
    ] {
        assert!(text.contains(needle), "schema lacks {needle}");
    }
}

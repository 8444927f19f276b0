//! `docs/telemetry.md` carries the registry table generated from code.
//! Regenerate with `PALISADE_BLESS=1 cargo test -p palisade-telemetry --test docs_table`.

const BEGIN: &str =
    "<!-- BEGIN GENERATED: metric registry (palisade_telemetry::registry::markdown_table) -->\n";
const END: &str = "<!-- END GENERATED -->";

#[test]
fn committed_table_matches_the_registry() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/telemetry.md");
    let doc = std::fs::read_to_string(&path).expect("docs/telemetry.md exists");
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
    let end = start + doc[start..].find(END).expect("end marker");
    let want = palisade_telemetry::registry::markdown_table();
    if doc[start..end] != want {
        if std::env::var_os("PALISADE_BLESS").is_some() {
            let updated = format!("{}{}{}", &doc[..start], want, &doc[end..]);
            std::fs::write(&path, updated).expect("write docs");
            return;
        }
        panic!(
            "docs/telemetry.md's metric table is stale; run \
             `PALISADE_BLESS=1 cargo test -p palisade-telemetry --test docs_table`"
        );
    }
}

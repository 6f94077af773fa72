//! ARCHITECTURE.md documents every artifact schema exactly as the registry defines it.

use std::path::Path;

#[test]
fn architecture_md_schemas_match_the_registry() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ARCHITECTURE.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let begin = "<!-- schemas:begin -->\n";
    let end = "<!-- schemas:end -->";
    let start = doc.find(begin).expect("begin marker") + begin.len();
    let stop = doc.find(end).expect("end marker");
    assert_eq!(
        doc[start..stop].trim(),
        glh_artifacts::schemas::markdown().trim(),
        "regenerate the section with `glh schema --format markdown`"
    );
}

//! docs/operations.md documents every reason code a user can meet, with the status and retryability the
//! code gives it.

use obo_core::ReasonCode;

#[test]
fn every_reason_code_is_in_the_operations_table_with_its_status() {
    let readme = std::fs::read_to_string(obo_e2e::workspace_root().join("docs/operations.md")).unwrap();
    let table = &readme[readme.find("## Reason codes").expect("a Reason codes section")..];
    let mut missing = Vec::new();
    for code in ReasonCode::ALL {
        let retry = if code.retryable() { "yes" } else { "no" };
        let row = format!("| `{}` | {} | {} |", code.as_str(), code.http_status(), retry);
        if !table.contains(&row) {
            missing.push(row);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/operations.md's reason-code table lacks or contradicts:\n{}",
        missing.join("\n")
    );
}

//! The log as CSV, for a spreadsheet or the auditor's own tools.

use std::io::{BufReader, Write};
use std::path::Path;

use super::chain;
use super::entry::Entry;
use super::error::AuditError;

pub const HEADER: [&str; 9] = [
    "seq",
    "time",
    "operator",
    "card_serial",
    "customer",
    "action",
    "outcome",
    "detail",
    "hash",
];

/// Write the log at `path` to `out` as RFC 4180 CSV (header first, CRLF line ends) and return
/// the number of entries. The chain is verified first and a broken log is not exported: a CSV
/// has no chain, so once exported, an edit would no longer show. Fields are written as they
/// are: a spreadsheet may read a detail starting with `=` as a formula, so open the file as
/// text when in doubt.
pub fn export_csv(path: &Path, out: &mut dyn Write) -> Result<usize, AuditError> {
    let file = std::fs::File::open(path).map_err(|e| AuditError::io(path, "read", e))?;
    let mut entries = Vec::new();
    chain::scan(path, BufReader::new(file), |e| entries.push(e.clone()))?;
    let mut text = String::new();
    push_row(&mut text, &HEADER);
    for e in &entries {
        push_row(&mut text, &row(e));
    }
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(AuditError::Export)?;
    Ok(entries.len())
}

fn row(e: &Entry) -> [String; 9] {
    [
        e.seq.to_string(),
        e.time.clone(),
        e.operator.clone(),
        e.card_serial.clone(),
        e.customer.clone(),
        e.action.as_str().to_string(),
        e.outcome.as_str().to_string(),
        e.detail.clone(),
        e.hash.clone(),
    ]
}

fn push_row<S: AsRef<str>>(text: &mut String, fields: &[S]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        push_field(text, field.as_ref());
    }
    text.push_str("\r\n");
}

/// RFC 4180: a field with a comma, quote or line break goes in quotes, its quotes doubled.
fn push_field(text: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        text.push('"');
        text.push_str(&field.replace('"', "\"\""));
        text.push('"');
    } else {
        text.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut t = String::new();
        push_row(&mut t, &["plain", "a,b", "say \"hi\"", "two\nlines", ""]);
        assert_eq!(t, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n");
    }
}

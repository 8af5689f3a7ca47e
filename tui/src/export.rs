//! Ctrl-s: write the focused pane's current view to a CSV or JSON file.
//!
//! The file is named after the pane and the time (`roster-events-1700000000.csv`) and goes
//! into the export directory; the footer shows its path. CSV quotes fields as RFC 4180 says;
//! JSON is an array of objects keyed by the column headers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The file format of exports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values with a header row.
    #[default]
    Csv,
    /// A JSON array of objects.
    Json,
}

impl ExportFormat {
    fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

/// Rows of one pane, as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// The pane's name.
    pub name: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// The rows, one cell per header.
    pub rows: Vec<Vec<String>>,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// `table` as CSV text.
pub fn to_csv(table: &Table) -> String {
    let mut out = String::new();
    for row in std::iter::once(&table.headers).chain(&table.rows) {
        let line: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// `table` as a JSON array of objects.
pub fn to_json(table: &Table) -> String {
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = table
        .rows
        .iter()
        .map(|row| {
            table
                .headers
                .iter()
                .map(|h| h.to_lowercase())
                .zip(row.iter().map(|c| serde_json::Value::String(c.clone())))
                .collect()
        })
        .collect();
    serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n"
}

/// Write `table` into `dir` in `format`, named after the pane and `now`; returns the path.
///
/// # Errors
/// The directory or file cannot be created or written.
pub fn write(
    table: &Table,
    format: ExportFormat,
    dir: &Path,
    now: SystemTime,
) -> Result<PathBuf, ExportError> {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let path = dir.join(format!(
        "roster-{}-{secs}.{}",
        table.name,
        format.extension()
    ));
    let text = match format {
        ExportFormat::Csv => to_csv(table),
        ExportFormat::Json => to_json(table),
    };
    let io = |source| ExportError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut file = std::fs::File::create(&path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    let path = std::path::absolute(&path).unwrap_or(path);
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            name: "members".into(),
            headers: vec!["MEMBER".into(), "CAPABILITIES".into()],
            rows: vec![vec!["a".into(), r#"{"zone":"x","n":1}"#.into()]],
        }
    }

    #[test]
    fn csv_quotes_fields_that_need_it() {
        assert_eq!(
            to_csv(&table()),
            "MEMBER,CAPABILITIES\na,\"{\"\"zone\"\":\"\"x\"\",\"\"n\"\":1}\"\n"
        );
    }

    #[test]
    fn json_rows_are_objects_keyed_by_header() {
        let rows: serde_json::Value = serde_json::from_str(&to_json(&table())).unwrap();
        assert_eq!(rows[0]["member"], "a");
        assert_eq!(rows[0]["capabilities"], r#"{"zone":"x","n":1}"#);
    }
}

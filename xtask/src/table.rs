//! Result tables, written as Markdown (for people), CSV (for spreadsheets) and JSON (for
//! scripts), all deterministic.
//!
//! Numbers are rounded before they are written: Markdown shows [`MD_SIG_DIGITS`] significant
//! digits, CSV and JSON [`DATA_SIG_DIGITS`]. Rounding is deliberate: `cargo xtask reproduce
//! --check` compares these files line by line, and the last bits of a float may legitimately
//! differ across CPUs, compilers or libm versions (e.g. fused multiply-add); six significant
//! digits are far more than any claim needs and far fewer than such noise can reach, except
//! for a value on a rounding boundary, whose last digit the check lets differ by one unit.
//!
//! ```
//! use xtask::table::Table;
//! use xtask::row;
//! let mut t = Table::new(["rho", "method", "error"]);
//! t.push(row![10, "CE", 0.123456789]);
//! assert!(t.to_markdown().contains("0.1235"));
//! assert_eq!(t.to_csv(), "rho,method,error\n10,CE,0.123457\n");
//! ```

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use imbalance_datasets::write_atomic;

/// Significant digits of floats in Markdown tables.
pub const MD_SIG_DIGITS: usize = 4;
/// Significant digits of floats in CSV and JSON files (see the module docs for why we round).
pub const DATA_SIG_DIGITS: usize = 6;

/// One table cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Free text (method names, labels, verdicts).
    Text(String),
    /// An integer (counts, sizes, seeds), written exactly.
    Int(i64),
    /// A float, rounded to a fixed number of significant digits when written.
    Float(f64),
    /// No value (written as an empty CSV field, `-` in Markdown, `null` in JSON).
    Empty,
}

impl From<f64> for Cell {
    fn from(x: f64) -> Self {
        Cell::Float(x)
    }
}
impl From<f32> for Cell {
    fn from(x: f32) -> Self {
        Cell::Float(f64::from(x))
    }
}
impl From<i64> for Cell {
    fn from(x: i64) -> Self {
        Cell::Int(x)
    }
}
impl From<i32> for Cell {
    fn from(x: i32) -> Self {
        Cell::Int(i64::from(x))
    }
}
impl From<u32> for Cell {
    fn from(x: u32) -> Self {
        Cell::Int(i64::from(x))
    }
}
impl From<usize> for Cell {
    fn from(x: usize) -> Self {
        Cell::Int(i64::try_from(x).unwrap_or(i64::MAX))
    }
}
impl From<u64> for Cell {
    fn from(x: u64) -> Self {
        Cell::Int(i64::try_from(x).unwrap_or(i64::MAX))
    }
}
impl From<&str> for Cell {
    fn from(x: &str) -> Self {
        Cell::Text(x.to_string())
    }
}
impl From<String> for Cell {
    fn from(x: String) -> Self {
        Cell::Text(x)
    }
}
impl From<&String> for Cell {
    fn from(x: &String) -> Self {
        Cell::Text(x.clone())
    }
}
impl From<bool> for Cell {
    fn from(x: bool) -> Self {
        Cell::Text(if x { "yes" } else { "no" }.to_string())
    }
}
impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(x: Option<T>) -> Self {
        x.map_or(Cell::Empty, Into::into)
    }
}

impl Cell {
    fn is_numeric(&self) -> bool {
        matches!(self, Cell::Int(_) | Cell::Float(_))
    }

    /// Markdown text of the cell.
    fn markdown(&self) -> String {
        match self {
            Cell::Text(s) => s.replace('|', "\\|").replace('\n', " "),
            Cell::Int(i) => i.to_string(),
            Cell::Float(x) => fmt_sig(*x, MD_SIG_DIGITS),
            Cell::Empty => "-".to_string(),
        }
    }

    /// CSV field of the cell (quoted when needed).
    fn csv(&self) -> String {
        match self {
            Cell::Text(s) => {
                if s.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.clone()
                }
            }
            Cell::Int(i) => i.to_string(),
            Cell::Float(x) => fmt_data_float(*x),
            Cell::Empty => String::new(),
        }
    }

    /// JSON value of the cell (floats rounded; NaN and infinities become `null`).
    fn json(&self) -> Value {
        match self {
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Int(i) => Value::from(*i),
            Cell::Float(x) => float_json(*x),
            Cell::Empty => Value::Null,
        }
    }
}

/// Build a table row from heterogeneous values: `row![10, "CE", 0.25, None::<f64>]`.
#[macro_export]
macro_rules! row {
    ($($x:expr),* $(,)?) => {
        vec![$($crate::table::Cell::from($x)),*]
    };
}

/// A rectangular table: named columns and rows of [`Cell`]s.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Column headers (units in the name, e.g. `"time (s)"`).
    pub columns: Vec<String>,
    /// Rows, each exactly `columns.len()` cells long.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these column headers.
    pub fn new<I, S>(columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            columns: columns.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Append a row (panics if its length differs from the number of columns: that is a bug in
    /// the experiment, not bad input).
    pub fn push(&mut self, row: Vec<Cell>) {
        assert_eq!(
            row.len(),
            self.columns.len(),
            "table row has {} cells but there are {} columns ({:?})",
            row.len(),
            self.columns.len(),
            self.columns
        );
        self.rows.push(row);
    }

    /// The column index of `name`, if present.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// GitHub-flavoured Markdown with padded, aligned columns (numbers right-aligned).
    pub fn to_markdown(&self) -> String {
        let ncol = self.columns.len();
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(Cell::markdown).collect())
            .collect();
        let header: Vec<String> = self
            .columns
            .iter()
            .map(|c| Cell::Text(c.clone()).markdown())
            .collect();
        let numeric: Vec<bool> = (0..ncol)
            .map(|j| {
                self.rows.iter().any(|r| r[j].is_numeric())
                    && self
                        .rows
                        .iter()
                        .all(|r| r[j].is_numeric() || r[j] == Cell::Empty)
            })
            .collect();
        let width: Vec<usize> = (0..ncol)
            .map(|j| {
                cells
                    .iter()
                    .map(|r| r[j].chars().count())
                    .chain([header[j].chars().count(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let pad = |s: &str, j: usize| {
            let fill = " ".repeat(width[j] - s.chars().count());
            if numeric[j] {
                format!("{fill}{s}")
            } else {
                format!("{s}{fill}")
            }
        };
        let mut out = String::new();
        let line = |parts: Vec<String>| format!("| {} |\n", parts.join(" | "));
        out.push_str(&line((0..ncol).map(|j| pad(&header[j], j)).collect()));
        out.push_str(&line(
            (0..ncol)
                .map(|j| {
                    if numeric[j] {
                        format!("{}:", "-".repeat(width[j] - 1))
                    } else {
                        "-".repeat(width[j])
                    }
                })
                .collect(),
        ));
        for r in &cells {
            out.push_str(&line((0..ncol).map(|j| pad(&r[j], j)).collect()));
        }
        out
    }

    /// CSV (RFC 4180 quoting, `\n` line ends, floats with [`DATA_SIG_DIGITS`] digits).
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self
            .columns
            .iter()
            .map(|c| Cell::Text(c.clone()).csv())
            .collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for r in &self.rows {
            let fields: Vec<String> = r.iter().map(Cell::csv).collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }

    /// JSON: `{"columns": [...], "rows": [{"<column>": value, ...}, ...]}` (object keys
    /// sorted by serde_json; `columns` keeps the order).
    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let map: serde_json::Map<String, Value> = self
                    .columns
                    .iter()
                    .zip(r)
                    .map(|(c, v)| (c.clone(), v.json()))
                    .collect();
                Value::Object(map)
            })
            .collect();
        serde_json::json!({ "columns": self.columns, "rows": rows })
    }

    /// Write `<dir>/<stem>.md`, `.csv` and `.json` atomically; returns the paths written.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        let md = dir.join(format!("{stem}.md"));
        let csv = dir.join(format!("{stem}.csv"));
        let json = dir.join(format!("{stem}.json"));
        write_atomic(&md, self.to_markdown().as_bytes())?;
        write_atomic(&csv, self.to_csv().as_bytes())?;
        write_json(&json, &self.to_json())?;
        Ok(vec![md, csv, json])
    }
}

/// Round `x` to `digits` significant digits (NaN and infinities pass through).
pub fn round_sig(x: f64, digits: usize) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return if x == 0.0 { 0.0 } else { x };
    }
    // Formatting in scientific notation rounds correctly (round-half-even on the exact binary
    // value), and parsing gives the nearest f64 of the rounded decimal.
    format!("{:.*e}", digits.max(1) - 1, x).parse().unwrap_or(x)
}

/// Format `x` with `digits` significant digits: fixed notation for 1e-3 <= |x| < 1e6
/// (`0.1235`, `12.35`, `1235`), scientific otherwise (`1.235e-5`). `-0` prints as `0`.
pub fn fmt_sig(x: f64, digits: usize) -> String {
    let digits = digits.max(1);
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let sci = format!("{:.*e}", digits - 1, x);
    // The exponent after rounding (9.9996 with 4 digits -> 1.000e1).
    let exp: i32 = sci
        .rsplit('e')
        .next()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    if (-3..6).contains(&exp) {
        let decimals = (digits as i32 - 1 - exp).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        sci
    }
}

/// A float as written into CSV/JSON: rounded to [`DATA_SIG_DIGITS`], shortest round-trip form.
fn fmt_data_float(x: f64) -> String {
    match float_json(x) {
        Value::Null => {
            if x.is_nan() {
                "NaN".to_string()
            } else if x > 0.0 {
                "inf".to_string()
            } else {
                "-inf".to_string()
            }
        }
        v => v.to_string(),
    }
}

/// A float as a JSON value: rounded to [`DATA_SIG_DIGITS`]; NaN and infinities are `null`.
fn float_json(x: f64) -> Value {
    serde_json::Number::from_f64(round_sig(x, DATA_SIG_DIGITS)).map_or(Value::Null, Value::Number)
}

/// A copy of `v` with every float rounded to [`DATA_SIG_DIGITS`] significant digits
/// (integers untouched), so that JSON output is stable against last-bit noise.
pub fn rounded_json(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => n.as_f64().map_or(Value::Null, float_json),
        Value::Array(a) => Value::Array(a.iter().map(rounded_json).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), rounded_json(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Serialise `value` to pretty JSON with floats rounded (see [`rounded_json`]) and object keys
/// sorted, and write it atomically (with a final newline).
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let v = rounded_json(&serde_json::to_value(value)?);
    let mut text = serde_json::to_string_pretty(&v)?;
    text.push('\n');
    Ok(write_atomic(path, text.as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits() {
        assert_eq!(fmt_sig(0.123456, 4), "0.1235");
        assert_eq!(fmt_sig(12.3456, 4), "12.35");
        assert_eq!(fmt_sig(1234.56, 4), "1235");
        assert_eq!(fmt_sig(123456.0, 4), "123456");
        assert_eq!(fmt_sig(1234567.0, 4), "1.235e6");
        assert_eq!(fmt_sig(0.00012346, 4), "1.235e-4");
        assert_eq!(fmt_sig(0.001, 4), "0.001000");
        assert_eq!(fmt_sig(9.99996, 4), "10.00"); // rounding moves the exponent
        assert_eq!(fmt_sig(-0.5, 3), "-0.500");
        assert_eq!(fmt_sig(-0.0, 3), "0");
        assert_eq!(fmt_sig(f64::NAN, 3), "NaN");
        assert_eq!(round_sig(0.1 + 0.2, 6), 0.3);
        assert_eq!(round_sig(1.0 / 3.0, 6), 0.333333);
    }

    fn sample() -> Table {
        let mut t = Table::new(["method", "rho", "error", "note"]);
        t.push(row!["CE", 10, 0.123456789, None::<String>]);
        t.push(row!["LA, tuned", 100, 2.5e-7, "say \"hi\""]);
        t.push(row!["a|b", 1, f64::NAN, Some("x")]);
        t
    }

    #[test]
    fn markdown_is_aligned_with_fixed_digits() {
        let md = sample().to_markdown();
        let expected = "\
| method    | rho |    error | note     |
| --------- | --: | -------: | -------- |
| CE        |  10 |   0.1235 | -        |
| LA, tuned | 100 | 2.500e-7 | say \"hi\" |
| a\\|b      |   1 |      NaN | x        |
";
        assert_eq!(md, expected);
    }

    #[test]
    fn csv_quotes_and_rounds() {
        let csv = sample().to_csv();
        let expected = "\
method,rho,error,note
CE,10,0.123457,
\"LA, tuned\",100,2.5e-7,\"say \"\"hi\"\"\"
a|b,1,NaN,x
";
        assert_eq!(csv, expected);
    }

    #[test]
    fn json_rounds_floats_and_keeps_columns() {
        let j = sample().to_json();
        assert_eq!(j["columns"][2], "error");
        assert_eq!(j["rows"][0]["error"], serde_json::json!(0.123457));
        assert_eq!(j["rows"][0]["rho"], serde_json::json!(10));
        assert!(j["rows"][2]["error"].is_null());
        let nested = serde_json::json!({"a": [1.0000000001, 2], "b": {"c": 0.1 + 0.2}});
        assert_eq!(
            rounded_json(&nested),
            serde_json::json!({"a": [1.0, 2], "b": {"c": 0.3}})
        );
    }

    #[test]
    #[should_panic(expected = "table row has 2 cells")]
    fn wrong_row_length_panics() {
        let mut t = Table::new(["a", "b", "c"]);
        t.push(row![1, 2]);
    }
}

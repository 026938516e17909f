//! The experiments and their registry.
//!
//! To add an experiment: write `experiments/eN.rs` with a unit struct implementing
//! [`Experiment`], declare `mod eN;` below and add `&eN::EN` to [`REGISTRY`] (the order there is
//! the order of runs and of `REPORT.md`). Ids are lowercase (`e1`); `--only E1` also works.

use anyhow::{Result, bail};
use serde::Serialize;

use crate::ctx::Ctx;
use crate::plot::Figure;
use crate::report::Claim;
use crate::table::Table;

pub(crate) mod common;
/// The pipeline's demo experiment, a fixture for the driver's tests only.
#[cfg(test)]
pub(crate) mod e0;
mod e1;
mod e2;
mod e3;
mod e4;
mod e5;
mod e6;
mod e7;
mod e8;

/// All experiments, in run order. THE list: `--only`, `REPORT.md` and `--check` follow it.
pub static REGISTRY: &[&dyn Experiment] = &[
    &e1::E1,
    &e2::E2,
    &e3::E3,
    &e4::E4,
    &e5::E5,
    &e6::E6,
    &e7::E7,
    &e8::E8,
];

/// One experiment of `cargo xtask reproduce`.
pub trait Experiment: Sync {
    /// Lowercase id, also the output folder name (`"e1"`).
    fn id(&self) -> &'static str;
    /// A short title for headings (`"CE fails on minority classes"`).
    fn title(&self) -> &'static str;
    /// The paper's claim this experiment tests, in one sentence.
    fn claim(&self) -> &'static str;
    /// Run it: pick grids with `ctx.pick`/`ctx.seeds`, wrap every expensive unit in
    /// `ctx.cached`, report progress with `ctx.progress`, and return tables, figures and
    /// judged claims. Return `Err` only for real failures; missing data is a
    /// [`Claim::not_run`] with instructions, not an error.
    fn run(&self, ctx: &mut Ctx) -> Result<ExperimentOutput>;
}

/// What an experiment produces; the driver writes it to `<out>/<id>/` and `REPORT.md`.
#[derive(Debug, Default)]
pub struct ExperimentOutput {
    /// Tables: stem -> table (`<stem>.md`, `.csv`, `.json`).
    pub tables: Vec<(String, Table)>,
    /// Figures: stem -> figure (`<stem>.svg`, `.png`).
    pub figures: Vec<(String, Figure)>,
    /// Extra JSON documents: stem -> value (`<stem>.json`, floats rounded).
    pub json: Vec<(String, serde_json::Value)>,
    /// The claims with their verdicts.
    pub claims: Vec<Claim>,
    /// Markdown paragraphs for `REPORT.md` (e.g. how to get missing data).
    pub notes: Vec<String>,
}

impl ExperimentOutput {
    /// An empty output.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a table written as `<stem>.md/.csv/.json`.
    pub fn table(&mut self, stem: &str, table: Table) -> &mut Self {
        self.tables.push((stem.to_string(), table));
        self
    }

    /// Add a figure written as `<stem>.svg/.png`.
    pub fn figure(&mut self, stem: &str, figure: Figure) -> &mut Self {
        self.figures.push((stem.to_string(), figure));
        self
    }

    /// Add an extra JSON document (raw numbers for scripts) written as `<stem>.json`.
    pub fn json<T: Serialize>(&mut self, stem: &str, value: &T) -> Result<&mut Self> {
        self.json
            .push((stem.to_string(), serde_json::to_value(value)?));
        Ok(self)
    }

    /// Add a judged claim.
    pub fn claim(&mut self, claim: Claim) -> &mut Self {
        self.claims.push(claim);
        self
    }

    /// Add a Markdown paragraph to the experiment's section of `REPORT.md`.
    pub fn note(&mut self, markdown: impl Into<String>) -> &mut Self {
        self.notes.push(markdown.into());
        self
    }

    /// Check output names: file-name-safe, unique, and not clashing between tables and JSON
    /// documents (both write `<stem>.json`) or with `summary.json`.
    pub fn validate(&self) -> Result<()> {
        let mut json_stems: Vec<&str> = vec!["summary"];
        let mut fig_stems: Vec<&str> = vec![];
        let stems = self
            .tables
            .iter()
            .map(|(s, _)| (s.as_str(), true))
            .chain(self.json.iter().map(|(s, _)| (s.as_str(), true)))
            .chain(self.figures.iter().map(|(s, _)| (s.as_str(), false)));
        for (stem, is_json) in stems {
            if stem.is_empty()
                || !stem
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            {
                bail!("output name {stem:?} must be non-empty and use only a-z, 0-9, '_' and '-'");
            }
            let seen = if is_json {
                &mut json_stems
            } else {
                &mut fig_stems
            };
            if seen.contains(&stem) {
                bail!("output name {stem:?} is used twice (or is the reserved name \"summary\")");
            }
            seen.push(stem);
        }
        Ok(())
    }
}

/// The ids of `registry`, comma-separated (for messages).
pub fn ids(registry: &[&dyn Experiment]) -> String {
    registry
        .iter()
        .map(|e| e.id())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The experiments of [`REGISTRY`] selected by `--only` (see [`select_from`]).
pub fn select(only: &[String]) -> Result<Vec<&'static dyn Experiment>> {
    select_from(REGISTRY, only)
}

/// The experiments of `registry` selected by `--only` (all when `only` is empty), in registry
/// order. Ids are matched case-insensitively; an unknown or empty id is an error naming the
/// allowed ids.
pub fn select_from<'a>(
    registry: &[&'a dyn Experiment],
    only: &[String],
) -> Result<Vec<&'a dyn Experiment>> {
    if only.is_empty() {
        return Ok(registry.to_vec());
    }
    let mut wanted = vec![];
    for raw in only {
        let id = raw.trim().to_lowercase();
        if id.is_empty() {
            bail!(
                "--only: empty experiment id in the list; allowed ids: {}",
                ids(registry)
            );
        }
        if !registry.iter().any(|e| e.id() == id) {
            bail!(
                "--only: unknown experiment id {raw:?}; allowed ids: {}",
                ids(registry)
            );
        }
        wanted.push(id);
    }
    Ok(registry
        .iter()
        .copied()
        .filter(|e| wanted.iter().any(|w| w == e.id()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_ids_are_unique_lowercase_and_documented() {
        let mut seen = vec![];
        for e in REGISTRY {
            let id = e.id();
            assert!(
                !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            );
            assert!(!seen.contains(&id), "duplicate id {id}");
            assert!(!e.title().is_empty() && !e.claim().is_empty());
            seen.push(id);
        }
    }

    #[test]
    fn select_validates_ids() {
        assert_eq!(select(&[]).unwrap().len(), REGISTRY.len());
        let reg: [&dyn Experiment; 1] = [&e0::E0];
        assert_eq!(select_from(&reg, &[]).unwrap().len(), 1);
        let one = select_from(&reg, &["E0".to_string(), " e0 ".to_string()]).unwrap();
        assert_eq!(one.len(), 1);
        let err = select_from(&reg, &["e99".to_string()])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("unknown experiment id \"e99\"") && err.contains("allowed ids: e0"),
            "{err}"
        );
        assert!(select_from(&reg, &[String::new()]).is_err());
    }

    #[test]
    fn output_names_are_validated() {
        let mut o = ExperimentOutput::new();
        o.table("errors", Table::new(["a"]));
        o.figure("errors", Figure::new("t"));
        assert!(
            o.validate().is_ok(),
            "a table and a figure may share a stem"
        );
        o.json("errors", &1).unwrap();
        assert!(
            o.validate().is_err(),
            "table errors.json vs json errors.json"
        );
        let mut o = ExperimentOutput::new();
        o.table("Bad Name", Table::new(["a"]));
        assert!(o.validate().is_err());
        let mut o = ExperimentOutput::new();
        o.json("summary", &1).unwrap();
        assert!(o.validate().is_err());
    }
}

//! Claims, verdicts and `REPORT.md`.
//!
//! Every experiment states the claims of the paper it tests as [`Claim`]s: the statement, an
//! explicit pass criterion written *before* looking at the numbers, the numbers themselves and
//! the verdict. `REPORT.md` lists them all; a FAIL is shown as prominently as a PASS (it is
//! counted at the top, listed in a box, and bold in every table), never hidden.
//!
//! The timing table is the only part of `REPORT.md` that changes from run to run; it sits
//! between [`TIMINGS_BEGIN`] and [`TIMINGS_END`] so `--check` can skip it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::table::fmt_sig;

/// Marker opening the run-dependent timing section of `REPORT.md`.
pub const TIMINGS_BEGIN: &str = "<!-- timings:begin (not compared by --check) -->";
/// Marker closing the timing section.
pub const TIMINGS_END: &str = "<!-- timings:end -->";

/// The outcome of checking one claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// The criterion holds.
    Pass,
    /// The criterion does not hold.
    Fail,
    /// The claim could not be checked (e.g. no image data); `reason` says why and what to do.
    NotRun {
        /// Why, and how to make it run.
        reason: String,
    },
}

impl Verdict {
    /// `Pass` if `ok`, else `Fail`.
    pub fn from_bool(ok: bool) -> Self {
        if ok { Verdict::Pass } else { Verdict::Fail }
    }

    /// Markdown rendering: `PASS`, `**FAIL**`, `NOT RUN`.
    pub fn markdown(&self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "**FAIL**",
            Verdict::NotRun { .. } => "NOT RUN",
        }
    }
}

/// One claim of the paper, with its criterion, evidence and verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// Short id, `<experiment>.<n>` (e.g. `"e1.2"`).
    pub id: String,
    /// The claim, in one sentence.
    pub statement: String,
    /// The explicit pass criterion (e.g. "max |theory - simulation| <= 0.02 over the grid").
    pub criterion: String,
    /// The numbers that support or refute it (e.g. "max gap 0.013 at rho = 50, K = 10").
    pub evidence: String,
    /// The verdict.
    pub verdict: Verdict,
}

impl Claim {
    /// A checked claim: PASS if `pass`, else FAIL.
    pub fn judged(
        id: impl Into<String>,
        statement: impl Into<String>,
        criterion: impl Into<String>,
        evidence: impl Into<String>,
        pass: bool,
    ) -> Self {
        Self {
            id: id.into(),
            statement: statement.into(),
            criterion: criterion.into(),
            evidence: evidence.into(),
            verdict: Verdict::from_bool(pass),
        }
    }

    /// A claim that could not be checked; `reason` says why and how to make it run.
    pub fn not_run(
        id: impl Into<String>,
        statement: impl Into<String>,
        criterion: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        let reason = reason.into();
        Self {
            id: id.into(),
            statement: statement.into(),
            criterion: criterion.into(),
            evidence: String::new(),
            verdict: Verdict::NotRun { reason },
        }
    }
}

/// How an experiment's last run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    /// It ran to the end (its claims may still FAIL).
    Done,
    /// It stopped with an error.
    Error {
        /// The error chain.
        message: String,
    },
    /// It has no results in this output directory yet.
    NotRun,
}

/// Everything `REPORT.md` says about one experiment; also written as `<out>/<id>/summary.json`
/// so that a later `--only` run can rebuild the full report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentSummary {
    /// Experiment id (`e1`).
    pub id: String,
    /// Short title.
    pub title: String,
    /// The paper's claim it tests.
    pub claim: String,
    /// Run settings in words (`"quick"`, `"full, --seeds 3"`).
    pub settings: String,
    /// How the run ended.
    pub status: RunStatus,
    /// The claims and their verdicts.
    pub claims: Vec<Claim>,
    /// Table stems (each has `.md`, `.csv`, `.json` in `<id>/`).
    pub tables: Vec<String>,
    /// Figure stems (each has `.svg`, `.png` in `<id>/`).
    pub figures: Vec<String>,
    /// Extra JSON files in `<id>/` (stems).
    pub json: Vec<String>,
    /// Free Markdown paragraphs (e.g. how to obtain missing data).
    pub notes: Vec<String>,
}

/// Wall-clock time and cache use of one experiment's last run (kept out of compared files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Seconds of wall-clock time.
    pub seconds: f64,
    /// Cache entries computed.
    pub computed: usize,
    /// Cache entries served from the cache.
    pub cached: usize,
}

/// Counts of verdicts over all claims (plus experiments that errored).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Claims that passed.
    pub pass: usize,
    /// Claims that failed.
    pub fail: usize,
    /// Claims not run (including every claim of an experiment never run).
    pub not_run: usize,
    /// Experiments that stopped with an error.
    pub errors: usize,
}

/// Count the verdicts in `exps`.
pub fn tally(exps: &[ExperimentSummary]) -> Tally {
    let mut t = Tally::default();
    for e in exps {
        match &e.status {
            RunStatus::Error { .. } => t.errors += 1,
            RunStatus::NotRun => t.not_run += 1,
            RunStatus::Done => {}
        }
        if e.status == RunStatus::Done {
            for c in &e.claims {
                match c.verdict {
                    Verdict::Pass => t.pass += 1,
                    Verdict::Fail => t.fail += 1,
                    Verdict::NotRun { .. } => t.not_run += 1,
                }
            }
        }
    }
    t
}

/// Render `REPORT.md`. `mode` describes the run (e.g. "quick (`cargo xtask reproduce
/// --quick`)"); `exps` lists every registered experiment in registry order; `timings` maps ids
/// to their last timing.
pub fn render(
    mode: &str,
    exps: &[ExperimentSummary],
    timings: &BTreeMap<String, Timing>,
) -> String {
    let mut s = String::new();
    let t = tally(exps);
    let _ = writeln!(s, "# Reproduction report\n");
    let _ = writeln!(
        s,
        "Generated by `cargo xtask reproduce`; mode: {mode}. Every claim lists the criterion it is \
         judged by, written before the numbers, and the numbers themselves. \
         Regenerate with the same command; an interrupted run resumes from `.cache/`.\n"
    );
    let _ = writeln!(
        s,
        "**Verdicts: {} PASS, {} FAIL, {} NOT RUN, {} experiment error(s).**\n",
        t.pass, t.fail, t.not_run, t.errors
    );
    let failed: Vec<&Claim> = exps
        .iter()
        .filter(|e| e.status == RunStatus::Done)
        .flat_map(|e| &e.claims)
        .filter(|c| c.verdict == Verdict::Fail)
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(s, "> **FAILED claims ({}):**", failed.len());
        for c in &failed {
            let _ = writeln!(
                s,
                "> - **{}**: {} (criterion: {})",
                c.id,
                one_line(&c.statement),
                one_line(&c.criterion)
            );
        }
        let _ = writeln!(s);
    }
    for e in exps {
        if let RunStatus::Error { message } = &e.status {
            let _ = writeln!(
                s,
                "> **{} stopped with an error:** {}\n",
                e.id,
                one_line(message)
            );
        }
    }

    // Summary table.
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(s, "| claim | statement | criterion | verdict |");
    let _ = writeln!(s, "| --- | --- | --- | --- |");
    for e in exps {
        match &e.status {
            RunStatus::Done if !e.claims.is_empty() => {
                for c in &e.claims {
                    let verdict = match &c.verdict {
                        Verdict::NotRun { reason } => format!("NOT RUN: {}", cell(reason)),
                        v => v.markdown().to_string(),
                    };
                    let _ = writeln!(
                        s,
                        "| [{}](#{}) | {} | {} | {} |",
                        c.id,
                        anchor(&e.id),
                        cell(&c.statement),
                        cell(&c.criterion),
                        verdict
                    );
                }
            }
            RunStatus::Done => {
                let _ = writeln!(
                    s,
                    "| [{}](#{}) | {} | - | no claims |",
                    e.id,
                    anchor(&e.id),
                    cell(&e.claim)
                );
            }
            RunStatus::Error { message } => {
                let _ = writeln!(
                    s,
                    "| [{}](#{}) | {} | - | **ERROR**: {} |",
                    e.id,
                    anchor(&e.id),
                    cell(&e.claim),
                    cell(message)
                );
            }
            RunStatus::NotRun => {
                let _ = writeln!(
                    s,
                    "| {} | {} | - | NOT RUN: run `cargo xtask reproduce --only {}` |",
                    e.id,
                    cell(&e.claim),
                    e.id
                );
            }
        }
    }
    let _ = writeln!(s);

    // One section per experiment.
    for e in exps {
        let _ = writeln!(s, "<a id=\"{}\"></a>\n", anchor(&e.id));
        let _ = writeln!(s, "## {}: {}\n", e.id, e.title);
        let _ = writeln!(s, "**Claim tested:** {}\n", e.claim);
        match &e.status {
            RunStatus::NotRun => {
                let _ = writeln!(
                    s,
                    "Not run in this output directory yet: `cargo xtask reproduce --only {}`.\n",
                    e.id
                );
                continue;
            }
            RunStatus::Error { message } => {
                let _ = writeln!(
                    s,
                    "**ERROR:** the experiment stopped: {}\n",
                    one_line(message)
                );
            }
            RunStatus::Done => {}
        }
        let _ = writeln!(s, "Settings: {}.\n", e.settings);
        let mut links = vec![];
        for t in &e.tables {
            for ext in ["md", "csv", "json"] {
                links.push(format!("[{t}.{ext}]({}/{t}.{ext})", e.id));
            }
        }
        for f in &e.figures {
            links.push(format!("[{f}.svg]({}/{f}.svg)", e.id));
        }
        for j in &e.json {
            links.push(format!("[{j}.json]({}/{j}.json)", e.id));
        }
        if !links.is_empty() {
            let _ = writeln!(s, "Files: {}\n", links.join(" · "));
        }
        for f in &e.figures {
            let _ = writeln!(s, "![{} {f}]({}/{f}.png)\n", e.id, e.id);
        }
        for n in &e.notes {
            let _ = writeln!(s, "{}\n", n.trim_end());
        }
        for c in &e.claims {
            let _ = writeln!(s, "### {}: {}\n", c.id, one_line(&c.statement));
            let _ = writeln!(s, "- Criterion: {}", one_line(&c.criterion));
            if !c.evidence.is_empty() {
                let _ = writeln!(s, "- Evidence: {}", one_line(&c.evidence));
            }
            match &c.verdict {
                Verdict::NotRun { reason } => {
                    let _ = writeln!(s, "- Verdict: NOT RUN. {}", one_line(reason));
                }
                v => {
                    let _ = writeln!(s, "- Verdict: {}", v.markdown());
                }
            }
            let _ = writeln!(s);
        }
    }

    // Timings (run-dependent: fenced by markers so --check skips them).
    let _ = writeln!(s, "{TIMINGS_BEGIN}");
    let _ = writeln!(s, "## Timings\n");
    let _ = writeln!(s, "| experiment | wall time (s) | computed | from cache |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: |");
    for e in exps {
        match timings.get(&e.id) {
            Some(t) => {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    e.id,
                    fmt_sig(t.seconds, 3),
                    t.computed,
                    t.cached
                );
            }
            None => {
                let _ = writeln!(s, "| {} | - | - | - |", e.id);
            }
        }
    }
    let _ = writeln!(s, "{TIMINGS_END}");
    s
}

/// Remove the timing section (between the markers, inclusive) from a report text.
pub fn strip_timings(report: &str) -> String {
    match (report.find(TIMINGS_BEGIN), report.find(TIMINGS_END)) {
        (Some(a), Some(b)) if b > a => {
            let mut s = report[..a].to_string();
            s.push_str(&report[b + TIMINGS_END.len()..]);
            s
        }
        _ => report.to_string(),
    }
}

/// Text made safe for a Markdown table cell.
fn cell(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

/// Collapse newlines so a text stays on one Markdown line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The explicit HTML anchor placed before each experiment's section (stable even when the
/// title changes, unlike the heading anchors Markdown renderers derive from the text).
fn anchor(id: &str) -> String {
    format!("exp-{}", id.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(claims: Vec<Claim>) -> ExperimentSummary {
        ExperimentSummary {
            id: "e9".into(),
            title: "Test".into(),
            claim: "Something holds".into(),
            settings: "quick".into(),
            status: RunStatus::Done,
            claims,
            tables: vec!["errors".into()],
            figures: vec!["errors".into()],
            json: vec![],
            notes: vec!["Data note.".into()],
        }
    }

    #[test]
    fn fail_is_visible_everywhere() {
        let exps = vec![summary(vec![
            Claim::judged("e9.1", "A holds", "gap <= 0.01", "gap = 0.002", true),
            Claim::judged("e9.2", "B holds", "gap <= 0.01", "gap = 0.3", false),
            Claim::not_run(
                "e9.3",
                "C holds",
                "gap <= 0.01",
                "no MNIST: run `imbalance fetch mnist`",
            ),
        ])];
        let mut timings = BTreeMap::new();
        timings.insert(
            "e9".to_string(),
            Timing {
                seconds: 1.5,
                computed: 3,
                cached: 1,
            },
        );
        let r = render("quick", &exps, &timings);
        assert!(r.contains("**Verdicts: 1 PASS, 1 FAIL, 1 NOT RUN, 0 experiment error(s).**"));
        assert!(r.contains("> **FAILED claims (1):**"));
        assert!(r.contains("> - **e9.2**: B holds (criterion: gap <= 0.01)"));
        assert!(r.contains("| [e9.2](#exp-e9) | B holds | gap <= 0.01 | **FAIL** |"));
        assert!(r.contains("- Verdict: **FAIL**"));
        assert!(r.contains("- Evidence: gap = 0.3"));
        assert!(r.contains("NOT RUN: no MNIST: run `imbalance fetch mnist`"));
        assert!(r.contains("![e9 errors](e9/errors.png)"));
        assert!(r.contains("[errors.csv](e9/errors.csv)"));
        assert!(r.contains("Data note."));
        // Timings are fenced off and stripped for comparisons.
        assert!(r.contains("| e9 | 1.50 | 3 | 1 |"));
        let stripped = strip_timings(&r);
        assert!(!stripped.contains("Timings") && stripped.contains("Summary"));
    }

    #[test]
    fn errors_and_not_run_experiments_are_reported() {
        let mut err = summary(vec![]);
        err.status = RunStatus::Error {
            message: "boom".into(),
        };
        let mut never = summary(vec![]);
        never.id = "e8".into();
        never.status = RunStatus::NotRun;
        let r = render("full", &[err, never], &BTreeMap::new());
        assert!(r.contains("1 NOT RUN, 1 experiment error(s)"));
        assert!(r.contains("> **e9 stopped with an error:** boom"));
        assert!(r.contains("**ERROR**: boom"));
        assert!(r.contains("`cargo xtask reproduce --only e8`"));
    }

    #[test]
    fn summary_round_trips_through_json() {
        let s = summary(vec![Claim::not_run("e9.1", "x", "y", "z")]);
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains(r#""status":"not_run","reason":"z""#));
        let back: ExperimentSummary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
    }
}

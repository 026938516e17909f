//! `imbalance sweep`: a list of independent configurations (a SPEC), run in shards and merged.
//!
//! A configuration is a JSON object `{"command": "predict" | "simulate" | "tune", FIELD:
//! VALUE, ...}` whose fields are the command's flags without `--` and with `_` for `-`
//! (`counts`, `profile`, `classes`, `n_max`, `ratio`, `minority_classes`, `dim`, `snr`,
//! `noise` (alias `sigma`), `means`, `method`, `tau`, `gamma`, `margin`, `beta`, `time`,
//! `seed`, `seeds`, `test_per_class`, `sampler`, `objective`, `max_memory`). It is turned into
//! that command line and parsed by the same clap definitions, checked and run by the same
//! functions as the command, so its result is exactly what `imbalance COMMAND ... --json`
//! prints.
//!
//! A SPEC is `{"base": {...}, "configs": [{...}, ...], "grid": {FIELD: [V1, V2, ...], ...}}`
//! (each key optional, at least one configuration in all; `grid` may also be a list of such
//! objects). The expanded list is every entry of `configs` (over `base`: an entry's fields
//! replace the base's), then for each grid the product of its axes over `base`, axes in
//! alphabetical order of their field names, the last varying fastest (as nested loops).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue};
use clap::{Args, CommandFactory, Parser};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, usage};
use crate::output::Progress;
use crate::{Cli, Command};

/// The commands a configuration may run.
pub const COMMANDS: [&str; 3] = ["predict", "simulate", "tune"];

/// Most configurations a SPEC may expand to.
pub const MAX_CONFIGS: usize = 1_000_000;

/// Arguments of `imbalance sweep`.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// The sweep specification, a JSON file: {"base": {...}, "configs": [...], "grid": {FIELD:
    /// [values]}}; each configuration has "command" (predict, simulate or tune) and that
    /// command's flags as fields (n_max for --n-max). Expanded order: the configs, then each
    /// grid's product, axes in alphabetical order, the last varying fastest.
    #[arg(value_name = "SPEC.json")]
    spec: PathBuf,
    /// Run shard I of N: configuration i (from 0, in expanded order) belongs to shard i mod N.
    /// Writes one JSON line per configuration ({"index", "id", "config", "result": what the
    /// command's --json prints}) to DIR/shard-I-of-N.jsonl. Default 0/1 (all of them).
    #[arg(long, value_name = "I/N", value_parser = parse_shard, conflicts_with = "merge")]
    shard: Option<Shard>,
    /// Merge the shard files DIR/shard-*-of-*.jsonl instead of running: checks that every
    /// configuration of the SPEC is there exactly once with the SPEC's config, and writes the
    /// lines in index order (to --out FILE, default stdout).
    #[arg(long, value_name = "DIR")]
    merge: Option<PathBuf>,
    /// With --shard: the directory of the shard file (required). With --merge: the merged
    /// JSON-lines file (default: stdout).
    #[arg(long, value_name = "DIR|FILE")]
    out: Option<PathBuf>,
}

/// Shard `index` of `count`: the configurations i with i mod count = index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// I, from 0 to N - 1.
    pub index: usize,
    /// N, at least 1.
    pub count: usize,
}

impl Shard {
    /// The shard's file name, `shard-I-of-N.jsonl`.
    pub fn file_name(&self) -> String {
        format!("shard-{}-of-{}.jsonl", self.index, self.count)
    }
}

/// Parses `--shard I/N` (0 <= I < N).
pub fn parse_shard(s: &str) -> std::result::Result<Shard, String> {
    let form = "give I/N with integers 0 <= I < N, e.g. 0/4";
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("'{s}' is not I/N; {form}"))?;
    let (Ok(index), Ok(count)) = (i.trim().parse::<usize>(), n.trim().parse::<usize>()) else {
        return Err(format!(
            "'{s}': I and N must be non-negative integers; {form}"
        ));
    };
    if count == 0 {
        return Err(format!("'{s}': N must be at least 1; {form}"));
    }
    if index >= count {
        return Err(format!(
            "'{s}': I must be less than N (the shards of {count} are 0/{count} to {}/{count})",
            count - 1
        ));
    }
    Ok(Shard { index, count })
}

/// An error about `field` of a SPEC or configuration.
fn field(name: impl Into<String>, problem: impl Into<String>) -> Error {
    Error::Field {
        field: name.into(),
        problem: problem.into(),
    }
}

/// Expands a SPEC into its list of configurations (order in the module documentation).
/// Each configuration is an object with a "command"; its fields are checked by
/// [`check_config`], not here.
pub fn expand(spec: &Value) -> Result<Vec<Value>> {
    let obj = spec.as_object().ok_or_else(|| {
        field(
            "spec",
            "must be a JSON object with base, configs and/or grid",
        )
    })?;
    if let Some(k) = obj
        .keys()
        .find(|k| !["base", "configs", "grid"].contains(&k.as_str()))
    {
        return Err(field(
            "spec",
            format!("unknown key '{k}'; allowed: base, configs, grid"),
        ));
    }
    let empty = Map::new();
    let base = match obj.get("base") {
        None => &empty,
        Some(Value::Object(b)) => b,
        Some(_) => return Err(field("base", "must be an object of fields")),
    };
    let over_base = |entry: &Map<String, Value>| {
        let mut c = base.clone();
        c.extend(entry.iter().map(|(k, v)| (k.clone(), v.clone())));
        Value::Object(c)
    };
    let mut configs = Vec::new();
    match obj.get("configs") {
        None => {}
        Some(Value::Array(list)) => {
            for (i, entry) in list.iter().enumerate() {
                let entry = entry
                    .as_object()
                    .ok_or_else(|| field(format!("configs[{i}]"), "must be an object of fields"))?;
                configs.push(over_base(entry));
            }
        }
        Some(_) => return Err(field("configs", "must be a list of objects")),
    }
    let grids: Vec<(String, &Map<String, Value>)> = match obj.get("grid") {
        None => Vec::new(),
        Some(Value::Object(g)) => vec![("grid".into(), g)],
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, g)| {
                g.as_object()
                    .map(|g| (format!("grid[{i}]"), g))
                    .ok_or_else(|| field(format!("grid[{i}]"), "must be an object of axes"))
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(field("grid", "must be an object of axes or a list of them")),
    };
    for (name, grid) in grids {
        // BTreeMap order: axes sorted by name.
        let mut axes: Vec<(&String, &Vec<Value>)> = Vec::new();
        let mut size: usize = 1;
        for (axis, values) in grid {
            let values = match values {
                Value::Array(v) if !v.is_empty() => v,
                _ => {
                    return Err(field(
                        format!("{name}.{axis}"),
                        "must be a non-empty list of values",
                    ));
                }
            };
            size = size
                .checked_mul(values.len())
                .filter(|&s| s <= MAX_CONFIGS)
                .ok_or_else(|| {
                    field(
                        name.clone(),
                        format!("expands to more than {MAX_CONFIGS} configurations"),
                    )
                })?;
            axes.push((axis, values));
        }
        if configs.len() + size > MAX_CONFIGS {
            return Err(field(
                name,
                format!("the SPEC expands to more than {MAX_CONFIGS} configurations"),
            ));
        }
        for mut flat in 0..size {
            let mut point = Map::new();
            for (axis, values) in axes.iter().rev() {
                point.insert((*axis).clone(), values[flat % values.len()].clone());
                flat /= values.len();
            }
            configs.push(over_base(&point));
        }
    }
    if configs.is_empty() {
        return Err(field(
            "spec",
            "has no configurations; give \"configs\" and/or \"grid\"",
        ));
    }
    // Through text once, as a shard file stores them, so that configurations read back from a
    // shard compare equal to these.
    Ok(configs
        .into_iter()
        .map(|c| serde_json::from_str(&c.to_string()).expect("serialised JSON parses"))
        .collect())
}

/// The stable id of a configuration: the first 16 hex digits of the SHA-256 of its compact
/// JSON text (keys sorted).
pub fn config_id(config: &Value) -> String {
    let digest = Sha256::digest(config.to_string().as_bytes());
    digest[..8].iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A configuration parsed into its command's arguments.
enum Job {
    Predict(crate::predict::PredictArgs),
    Simulate(crate::simulate::SimulateArgs),
    Tune(crate::predict::TuneArgs),
}

/// The field name of a flag: `--n-max` -> `n_max` (also for clap's `--n-max <N>`).
fn flag_field(flag: &str) -> String {
    let name = flag.split_whitespace().next().unwrap_or(flag);
    name.trim_start_matches('-').replace('-', "_")
}

/// A command's error in terms of configuration fields instead of flags.
fn in_fields(e: Error) -> Error {
    match e {
        Error::Usage { flag, problem } => field(flag_field(flag), problem),
        other => other,
    }
}

/// clap's error on a configuration's command line, naming the field.
fn clap_field_error(e: &clap::Error) -> Error {
    let msg = crate::clap_message(e);
    let msg = msg.strip_prefix("error: ").unwrap_or(&msg);
    let msg = msg.strip_suffix(" (see --help)").unwrap_or(msg);
    let name = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => flag_field(s),
        Some(ContextValue::Strings(v)) if !v.is_empty() => flag_field(&v[0]),
        _ => "config".into(),
    };
    field(name, msg.to_string())
}

/// One value of a field as its flag's text: a string as is, a number as JSON writes it, a
/// list as its items joined by commas.
fn flag_value(name: &str, value: &Value) -> Result<String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let bad = || {
        field(
            name,
            "expected a number, a string or a list of numbers (e.g. counts [200, 20])",
        )
    };
    match value {
        Value::Array(items) => items
            .iter()
            .map(|v| scalar(v).ok_or_else(bad))
            .collect::<Result<Vec<_>>>()
            .map(|v| v.join(",")),
        v => scalar(v).ok_or_else(bad),
    }
}

/// Parses a configuration into its command (unknown fields and bad values name the field).
fn parse_config(config: &Value) -> Result<Job> {
    let obj = config
        .as_object()
        .ok_or_else(|| field("config", "must be a JSON object of fields"))?;
    let command = match obj.get("command") {
        Some(Value::String(c)) if COMMANDS.contains(&c.as_str()) => c.as_str(),
        Some(c) => {
            return Err(field(
                "command",
                format!("unknown command {c}; allowed: {}", COMMANDS.join(", ")),
            ));
        }
        None => {
            return Err(field(
                "command",
                format!("missing; allowed: {}", COMMANDS.join(", ")),
            ));
        }
    };
    let cli = Cli::command();
    let sub = cli
        .find_subcommand(command)
        .expect("every command of COMMANDS is a subcommand");
    // Field name -> the flag it sets; `json` is always on, `help`/`version` are not fields.
    let mut flags: BTreeMap<String, String> = BTreeMap::new();
    for arg in sub.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if ["json", "help", "version"].contains(&long) {
            continue;
        }
        for name in std::iter::once(long).chain(arg.get_all_aliases().unwrap_or_default()) {
            flags.insert(name.replace('-', "_"), long.to_string());
        }
    }
    let mut argv = vec![
        "imbalance".to_string(),
        command.to_string(),
        "--json".into(),
    ];
    for (name, value) in obj {
        if name == "command" {
            continue;
        }
        let Some(long) = flags.get(name) else {
            let allowed: Vec<&str> = flags.keys().map(String::as_str).collect();
            return Err(field(
                name.clone(),
                format!(
                    "unknown field for {command}; allowed: command, {}",
                    allowed.join(", ")
                ),
            ));
        };
        argv.push(format!("--{long}={}", flag_value(name, value)?));
    }
    match Cli::try_parse_from(argv) {
        Ok(Cli {
            command: Command::Predict(a),
        }) => Ok(Job::Predict(a)),
        Ok(Cli {
            command: Command::Simulate(a),
        }) => Ok(Job::Simulate(a)),
        Ok(Cli {
            command: Command::Tune(a),
        }) => Ok(Job::Tune(a)),
        Ok(_) => unreachable!("the command is one of COMMANDS"),
        Err(e) => Err(clap_field_error(&e)),
    }
}

/// Checks a configuration without running it: its fields, and everything its command checks
/// before computing (ranges, method and time, the cost estimate against the memory limit).
/// Errors name the field (`n_max` for `--n-max`).
pub fn check_config(config: &Value) -> Result<()> {
    let job = parse_config(config)?;
    match &job {
        Job::Predict(a) => crate::predict::check_predict(a),
        Job::Simulate(a) => crate::simulate::check(a),
        Job::Tune(a) => crate::predict::check_tune(a),
    }
    .map_err(in_fields)
}

/// Runs a configuration: exactly what its command prints with `--json`. Errors name the field.
pub fn run_config(config: &Value) -> Result<Value> {
    let job = parse_config(config)?;
    match &job {
        Job::Predict(a) => crate::predict::predict_json(a),
        Job::Simulate(a) => crate::simulate::simulate_json(a),
        Job::Tune(a) => crate::predict::tune_json(a),
    }
    .map_err(in_fields)
}

/// The error of configuration `index`.
fn at(index: usize) -> impl Fn(Error) -> Error {
    move |e| Error::Config {
        index,
        source: Box::new(e),
    }
}

/// [`expand`], then [`check_config`] on every configuration (errors name its index): what
/// `imbalance sweep` does before it runs anything.
pub fn expand_checked(spec: &Value) -> Result<Vec<Value>> {
    let configs = expand(spec)?;
    for (i, c) in configs.iter().enumerate() {
        check_config(c).map_err(at(i))?;
    }
    Ok(configs)
}

/// Reads the SPEC file and expands and checks it ([`expand_checked`]).
fn read_spec(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage("SPEC", format!("cannot read {}: {e}", path.display())))?;
    let spec: Value = serde_json::from_str(&text)
        .map_err(|e| usage("SPEC", format!("{} is not JSON: {e}", path.display())))?;
    expand_checked(&spec)
}

/// Runs `imbalance sweep`.
pub fn run_sweep(args: &SweepArgs) -> Result<()> {
    let configs = read_spec(&args.spec)?;
    match &args.merge {
        Some(dir) => merge(&configs, dir, args.out.as_deref()),
        None => {
            let dir = args.out.as_ref().ok_or_else(|| {
                usage(
                    "--out",
                    "missing: give --out DIR for the shard file (or --merge DIR to merge)",
                )
            })?;
            run_shard(
                &configs,
                args.shard.unwrap_or(Shard { index: 0, count: 1 }),
                dir,
            )
        }
    }
}

/// The shard-file line of configuration `index`.
fn line(index: usize, config: &Value, result: Value) -> String {
    json!({ "index": index, "id": config_id(config), "config": config, "result": result })
        .to_string()
}

/// Runs the configurations of `shard` and writes DIR/shard-I-of-N.jsonl atomically.
fn run_shard(configs: &[Value], shard: Shard, dir: &Path) -> Result<()> {
    let mine: Vec<usize> = (shard.index..configs.len()).step_by(shard.count).collect();
    let progress = Progress::new("sweep", mine.len());
    let mut text = String::new();
    for (done, &i) in mine.iter().enumerate() {
        let result = run_config(&configs[i]).map_err(at(i))?;
        text.push_str(&line(i, &configs[i], result));
        text.push('\n');
        progress.step(done + 1);
    }
    write_out(&dir.join(shard.file_name()), &text)
}

/// Writes `text` to `path` atomically; a failure names --out and the file.
fn write_out(path: &Path, text: &str) -> Result<()> {
    imbalance_datasets::write_atomic(path, text.as_bytes())
        .map_err(|e| usage("--out", format!("cannot write {}: {e}", path.display())))
}

/// At most 20 indices, then how many more.
fn index_list(indices: &[usize]) -> String {
    let mut s: Vec<String> = indices.iter().take(20).map(|i| i.to_string()).collect();
    if indices.len() > 20 {
        s.push(format!("... ({} more)", indices.len() - 20));
    }
    s.join(", ")
}

/// True for a shard file's name, `shard-I-of-N.jsonl`.
fn is_shard_file(name: &str) -> bool {
    name.strip_prefix("shard-")
        .and_then(|s| s.strip_suffix(".jsonl"))
        .and_then(|s| s.split_once("-of-"))
        .is_some_and(|(i, n)| parse_shard(&format!("{i}/{n}")).is_ok())
}

/// Merges the shard files in `dir` into one JSON-lines table in index order.
fn merge(configs: &[Value], dir: &Path, out: Option<&Path>) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| usage("--merge", format!("cannot read {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_shard_file)
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(usage(
            "--merge",
            format!("no shard files (shard-I-of-N.jsonl) in {}", dir.display()),
        ));
    }
    let mut lines: Vec<Option<String>> = vec![None; configs.len()];
    let mut duplicated: Vec<usize> = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| usage("--merge", format!("cannot read {}: {e}", file.display())))?;
        for (n, raw) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let bad =
                |what: String| usage("--merge", format!("{}:{}: {what}", file.display(), n + 1));
            let v: Value =
                serde_json::from_str(raw).map_err(|e| bad(format!("not a JSON line: {e}")))?;
            let index = v["index"]
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .ok_or_else(|| bad("no \"index\" (a non-negative integer)".into()))?;
            let Some(config) = configs.get(index) else {
                return Err(bad(format!(
                    "configuration {index} is not in the SPEC (it has {} configurations)",
                    configs.len()
                )));
            };
            if v["config"] != *config || v["id"] != config_id(config).as_str() {
                return Err(bad(format!(
                    "configuration {index} differs from the SPEC's (was the SPEC changed after the shards ran?)"
                )));
            }
            if !v["result"].is_object() {
                return Err(bad(format!(
                    "configuration {index} has no \"result\" object"
                )));
            }
            match &lines[index] {
                Some(_) => duplicated.push(index),
                None => lines[index] = Some(raw.to_string()),
            }
        }
    }
    if !duplicated.is_empty() {
        duplicated.sort_unstable();
        duplicated.dedup();
        return Err(usage(
            "--merge",
            format!(
                "{} configuration(s) appear more than once in {}: {}",
                duplicated.len(),
                dir.display(),
                index_list(&duplicated)
            ),
        ));
    }
    let missing: Vec<usize> = (0..configs.len()).filter(|&i| lines[i].is_none()).collect();
    if !missing.is_empty() {
        return Err(usage(
            "--merge",
            format!(
                "{} of {} configurations missing in {}: {} (configuration i is in shard-I-of-N.jsonl with I = i mod N)",
                missing.len(),
                configs.len(),
                dir.display(),
                index_list(&missing)
            ),
        ));
    }
    let mut text = String::new();
    for l in lines.into_iter().flatten() {
        text.push_str(&l);
        text.push('\n');
    }
    match out {
        Some(path) => write_out(path, &text)?,
        None => {
            use std::io::Write;
            std::io::stdout().lock().write_all(text.as_bytes())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_reject_bad_forms() {
        assert_eq!(parse_shard("1/4"), Ok(Shard { index: 1, count: 4 }));
        for (bad, why) in [
            ("3/2", "less than N"),
            ("a/b", "integers"),
            ("0/0", "at least 1"),
            ("2", "not I/N"),
            ("-1/2", "integers"),
        ] {
            let e = parse_shard(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn grid_expands_in_documented_order() {
        let spec = json!({
            "base": {"command": "predict", "dim": 200},
            "configs": [{"snr": 1}],
            "grid": {"snr": [2, 3], "method": ["ce", "la"]},
        });
        let c = expand(&spec).unwrap();
        let pairs: Vec<(Value, Value)> = c
            .iter()
            .map(|c| (c["method"].clone(), c["snr"].clone()))
            .collect();
        // configs first; then axes sorted (method, snr), snr varying fastest.
        assert_eq!(
            pairs,
            vec![
                (Value::Null, json!(1)),
                (json!("ce"), json!(2)),
                (json!("ce"), json!(3)),
                (json!("la"), json!(2)),
                (json!("la"), json!(3)),
            ]
        );
        assert!(c.iter().all(|c| c["dim"] == 200));
    }

    #[test]
    fn ids_are_stable_and_differ() {
        let a = json!({"command": "predict", "dim": 200, "snr": 3});
        let b = json!({"snr": 3, "dim": 200, "command": "predict"});
        assert_eq!(config_id(&a), config_id(&b));
        assert_eq!(config_id(&a).len(), 16);
        assert_ne!(config_id(&a), config_id(&json!({"command": "predict"})));
    }

    #[test]
    fn unknown_field_and_bad_value_name_the_field() {
        let e = check_config(&json!({"command": "predict", "tauu": 1})).unwrap_err();
        assert!(e.to_string().starts_with("tauu: unknown field"), "{e}");
        let e = check_config(
            &json!({"command": "predict", "counts": [40, 8], "dim": "x", "snr": 3, "method": "ce"}),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("dim: "), "{e}");
        let e = check_config(
            &json!({"command": "predict", "counts": [40, 8], "dim": 200, "snr": 3, "method": "la", "tau": 1000}),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("tau: "), "{e}");
    }
}

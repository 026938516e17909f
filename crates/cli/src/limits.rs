//! The memory limit a run is checked against (`--max-memory`, else the operating system's
//! available memory) and the documented ranges of the numeric flags.

use clap::Args;
use imbalance_pipeline::Error as PipelineError;
use imbalance_pipeline::cost::{Estimate, Input, LimitSource, MemoryLimit, format_bytes};

use crate::error::{Result, usage};

/// `--max-memory`, shared by every command that computes.
#[derive(Debug, Clone, Args)]
pub struct MemoryArgs {
    /// Memory the run may use, e.g. 8G, 512M, 1.5T (powers of 1000; KiB/MiB/GiB/TiB for powers
    /// of 1024). Default: 80% of the memory the operating system reports available
    /// (MemAvailable of /proc/meminfo). A run whose estimate exceeds it is refused before it
    /// starts.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, allow_hyphen_values = true)]
    pub max_memory: Option<u64>,
}

impl MemoryArgs {
    /// The limit: the flag's, else the machine's available memory (none if unknown).
    pub fn limit(&self) -> Option<MemoryLimit> {
        match self.max_memory {
            Some(bytes) => Some(MemoryLimit {
                bytes,
                source: LimitSource::Given,
            }),
            None => available_memory().map(|bytes| MemoryLimit {
                bytes,
                source: LimitSource::Available,
            }),
        }
    }

    /// Errors (naming the flag; the counts as `counts_flag`, which is `--n-max` for a
    /// profile) unless `estimate` fits the limit and its maxima.
    pub fn check(&self, estimate: &Estimate, counts_flag: &'static str) -> Result<()> {
        estimate
            .check(self.limit())
            .map_err(|e| cost_error(e, counts_flag))
    }
}

/// The flag that sets a cost input.
fn input_flag(input: Input, counts_flag: &'static str) -> &'static str {
    match input {
        Input::Counts => counts_flag,
        Input::Dim => "--dim",
        Input::Seeds => "--seeds",
        Input::TestPerClass => "--test-per-class",
        Input::Features => "--features",
        Input::MomentSamples => "--moment-samples",
    }
}

/// The pipeline's refusal of a too large or too long run in terms of the flags.
pub fn cost_error(e: PipelineError, counts_flag: &'static str) -> crate::Error {
    match e {
        PipelineError::TooLarge {
            input,
            detail,
            limit,
        } => {
            let limit = match limit {
                None => "that overflows 64-bit sizes".to_string(),
                Some(l) => match l.source {
                    LimitSource::Available => format!(
                        "this machine has {} available (see --max-memory)",
                        format_bytes(Some(l.bytes))
                    ),
                    LimitSource::Given => {
                        format!("--max-memory is {}", format_bytes(Some(l.bytes)))
                    }
                },
            };
            usage(input_flag(input, counts_flag), format!("{detail}; {limit}"))
        }
        PipelineError::TooLong { input, detail } => usage(input_flag(input, counts_flag), detail),
        other => other.into(),
    }
}

/// A pipeline error in terms of the flags: a refused size names the flag that makes it large
/// (the counts as `counts_flag`), anything else as [`crate::Error`]'s conversion says.
pub fn pipeline_error(e: PipelineError, counts_flag: &'static str) -> crate::Error {
    match e {
        e @ (PipelineError::TooLarge { .. } | PipelineError::TooLong { .. }) => {
            cost_error(e, counts_flag)
        }
        e => e.into(),
    }
}

/// 80% of MemAvailable of /proc/meminfo in bytes (`None` where there is no such file): the
/// margin keeps a run that just fits from driving the machine into swap or the OOM killer,
/// since the operating system grants more than it can back.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.checked_mul(1024)? / 5 * 4)
}

/// Parses a size: a number with an optional unit K, M, G, T (powers of 1000, optionally
/// followed by B) or KiB, MiB, GiB, TiB (powers of 1024).
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "unknown unit '{unit}'; give a size like 8G, 512M, 1.5T or 16GiB"
            ));
        }
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size; give one like 8G, 512M, 1.5T or 16GiB"))?;
    let bytes = v * scale;
    if !(1.0..1e19).contains(&bytes) {
        return Err(format!("'{s}' must be between 1 byte and 10 EB"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("8G"), Ok(8_000_000_000));
        assert_eq!(parse_size("8GB"), Ok(8_000_000_000));
        assert_eq!(parse_size("1.5t"), Ok(1_500_000_000_000));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        for bad in ["", "G", "-1G", "8X", "1e30", "0", "nan"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}

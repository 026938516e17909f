//! The context an experiment runs in: run settings (quick or full, seeds, data directory),
//! the per-configuration cache, progress reporting and seed derivation.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cache::{Cache, config_hash};
use crate::progress::Progress;
use crate::stop::Stop;

/// Run-wide settings shared by all experiments of one `cargo xtask reproduce` invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Small grids (CI) instead of the full ones.
    pub quick: bool,
    /// `--seeds N`: overrides every experiment's default number of seeds.
    pub seeds: Option<usize>,
    /// `--data-dir DIR` for the image datasets (`None`: the datasets crate's default lookup).
    pub data_dir: Option<PathBuf>,
    /// Output root (`results` or `results-quick`).
    pub out: PathBuf,
    /// Read existing cache entries (`false` with `--no-cache`; fresh results are still cached).
    pub use_cache: bool,
    /// Print progress lines on stderr.
    pub progress: bool,
    /// Set by the Ctrl-C handler: stop before the next configuration that is not cached.
    pub stop: Stop,
}

impl Settings {
    /// The settings in words, as shown in `REPORT.md` (`"quick"`, `"full, --seeds 3"`).
    pub fn describe(&self) -> String {
        let mut s = if self.quick { "quick" } else { "full" }.to_string();
        if let Some(n) = self.seeds {
            s.push_str(&format!(", --seeds {n}"));
        }
        s
    }
}

/// What an experiment's `run` receives.
#[derive(Debug)]
pub struct Ctx {
    id: &'static str,
    settings: Settings,
    cache: Cache,
}

impl Ctx {
    /// The context of experiment `id` under `settings`; its cache lives in
    /// `<out>/.cache/<id>/`.
    pub fn new(id: &'static str, settings: &Settings) -> Self {
        let cache = Cache::new(settings.out.join(".cache").join(id), id, settings.use_cache)
            .with_stop(settings.stop.clone());
        Self {
            id,
            settings: settings.clone(),
            cache,
        }
    }

    /// The experiment id (`"e3"`).
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// Whether this is a `--quick` run.
    pub fn quick(&self) -> bool {
        self.settings.quick
    }

    /// The run settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// `quick` in a `--quick` run, else `full`: use it for every grid and size
    /// (`ctx.pick(vec![1.0, 10.0], logspace(1.0, 100.0, 12))`).
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        if self.settings.quick { quick } else { full }
    }

    /// The number of seeds: `--seeds N` if given, else `quick` or `full`.
    pub fn seeds(&self, quick: usize, full: usize) -> usize {
        self.settings.seeds.unwrap_or(self.pick(quick, full))
    }

    /// The `--data-dir` given on the command line, if any (pass it on to the datasets crate,
    /// which then falls back to `IMBALANCE_DATA_DIR` and its default location).
    pub fn data_dir(&self) -> Option<&Path> {
        self.settings.data_dir.as_deref()
    }

    /// Where this experiment's output files go (`<out>/<id>/`).
    pub fn out_dir(&self) -> PathBuf {
        self.settings.out.join(self.id)
    }

    /// Return the cached result for `config`, or compute, cache and return it. `config` must
    /// describe *everything* the result depends on (sizes, seeds, method, hyperparameters, and
    /// a `version` to bump when the computation changes). Cheap enough to call per grid point;
    /// `&self`, so it may be called from rayon workers.
    pub fn cached<C, T, F>(&self, config: &C, compute: F) -> Result<T>
    where
        C: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Result<T>,
    {
        self.cache.get_or_compute(config, compute)
    }

    /// `(served from cache, computed)` so far.
    pub fn cache_stats(&self) -> (usize, usize) {
        self.cache.stats()
    }

    /// A progress reporter over `total` items, labelled with the experiment id.
    pub fn progress(&self, total: usize) -> Progress {
        self.progress_stage("", total)
    }

    /// A progress reporter labelled `"<id> <stage>"` (e.g. `"e3 LA"`).
    pub fn progress_stage(&self, stage: &str, total: usize) -> Progress {
        if !self.settings.progress {
            return Progress::quiet(total);
        }
        if stage.is_empty() {
            Progress::new(self.id, total)
        } else {
            Progress::new(format!("{} {stage}", self.id), total)
        }
    }

    /// Print a note on stderr (`[e7] MNIST not found ...`).
    pub fn note(&self, msg: &str) {
        if self.settings.progress {
            eprintln!("[{}] {msg}", self.id);
        }
    }

    /// A deterministic 64-bit seed for replicate `replicate` of `config`: the FNV-1a hash of the
    /// config's canonical JSON mixed with the replicate index (SplitMix64 finaliser). The same
    /// config and replicate always give the same seed, on every machine.
    pub fn seed<C: Serialize + ?Sized>(config: &C, replicate: u64) -> Result<u64> {
        Ok(splitmix64(
            config_hash(config)? ^ splitmix64(replicate.wrapping_add(0x9e37_79b9_7f4a_7c15)),
        ))
    }
}

pub use imbalance_core::splitmix64;

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(quick: bool, seeds: Option<usize>) -> Settings {
        Settings {
            quick,
            seeds,
            data_dir: None,
            out: PathBuf::from("/nonexistent"),
            use_cache: true,
            progress: false,
            stop: Stop::new(),
        }
    }

    #[test]
    fn pick_and_seeds() {
        let q = Ctx::new("e1", &settings(true, None));
        let f = Ctx::new("e1", &settings(false, Some(7)));
        assert_eq!(q.pick(1, 2), 1);
        assert_eq!(f.pick(1, 2), 2);
        assert_eq!(q.seeds(3, 20), 3);
        assert_eq!(f.seeds(3, 20), 7);
        assert_eq!(f.out_dir(), PathBuf::from("/nonexistent/e1"));
        assert_eq!(settings(false, Some(7)).describe(), "full, --seeds 7");
    }

    #[test]
    fn seeds_are_stable_and_distinct() {
        #[derive(Serialize)]
        struct C {
            rho: f64,
        }
        let a = Ctx::seed(&C { rho: 10.0 }, 0).unwrap();
        assert_eq!(a, Ctx::seed(&C { rho: 10.0 }, 0).unwrap());
        assert_ne!(a, Ctx::seed(&C { rho: 10.0 }, 1).unwrap());
        assert_ne!(a, Ctx::seed(&C { rho: 20.0 }, 0).unwrap());
        // SplitMix64 reference: first output of the generator seeded with 0 is
        // 0xe220a8397b1dcdaf (Vigna's splitmix64.c), i.e. splitmix64(0) here.
        assert_eq!(splitmix64(0), 0xe220a8397b1dcdaf);
    }
}

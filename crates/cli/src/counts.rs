//! The training counts per class of a real dataset or of your own data (`train`, `preview`):
//! the counts and profile flags, and the defaults when none is given.

use clap::Args;
use imbalance_datasets::MinorityChoice;
use imbalance_pipeline::ClassCounts;
use rand_pcg::Pcg64;

use crate::args::ProfileKind;
use crate::error::{Result, usage};

/// The counts of a built-in dataset with `k` classes: what the counts flags ask for, else the
/// default step (classes 0-4 get 500 images, 5-9 get 50).
pub(crate) fn builtin_counts(
    class_counts: Option<&ClassCounts>,
    k: usize,
    rng: &mut Pcg64,
) -> Result<Vec<usize>> {
    let default = ClassCounts::default_step();
    Ok(class_counts.unwrap_or(&default).resolve(k, rng)?)
}

/// The counts of a user's own data (features or image folders) with `pool` images per class:
/// what the counts flags ask for, else every image, with the data's own imbalance.
pub(crate) fn own_data_counts(
    class_counts: Option<&ClassCounts>,
    pool: &[usize],
    rng: &mut Pcg64,
) -> Result<Vec<usize>> {
    match class_counts {
        Some(c) => Ok(c.resolve(pool.len(), rng)?),
        None => Ok(pool.to_vec()),
    }
}

/// The training counts per class of a real dataset: explicit, or a step / exp profile over
/// its K classes (`train` and `preview`).
#[derive(Debug, Clone, Args)]
pub struct ImageCountsArgs {
    /// Training images per class 0..K-1, comma-separated (default: 500,500,500,500,500,
    /// 50,50,50,50,50 on a built-in dataset; every image, with its own counts, on your own
    /// data).
    #[arg(long, value_delimiter = ',', value_name = "N0,...,N9", action = clap::ArgAction::Set,
          allow_hyphen_values = true, value_parser = crate::args::parse_usize)]
    pub(crate) counts: Option<Vec<usize>>,
    /// Imbalance profile (instead of --counts) over the data's K classes; needs --n-max and
    /// --ratio. exp is the long-tailed profile of Cao et al. 2019 (CIFAR-10-LT):
    /// n_c = floor(n_max * ratio^(-c/(K-1))), truncated as in the papers.
    #[arg(long, value_enum, ignore_case = true)]
    pub(crate) profile: Option<ProfileKind>,
    /// Images of the largest class (with --profile).
    #[arg(long, value_parser = crate::args::parse_usize)]
    n_max: Option<usize>,
    /// Imbalance ratio n_max / n_min >= 1 (with --profile).
    #[arg(long)]
    ratio: Option<f64>,
    /// Number of minority classes (with --profile step; default 5).
    #[arg(long, value_parser = crate::args::parse_usize)]
    minority_classes: Option<usize>,
    /// Which classes are the minority (with --profile step): a comma-separated list, or
    /// `random` (--minority-classes of them, drawn with --seed). Default: the last ones.
    #[arg(long, value_name = "LIST|random")]
    minority: Option<String>,
}

impl ImageCountsArgs {
    /// The class counts described by the flags (`None`: no counts flag given).
    pub(crate) fn class_counts(&self) -> Result<Option<ClassCounts>> {
        match (&self.counts, self.profile) {
            (Some(_), Some(_)) => Err(usage(
                "--counts",
                "give either --counts or --profile, not both",
            )),
            (counts, None) => {
                for (flag, given) in [
                    ("--n-max", self.n_max.is_some()),
                    ("--ratio", self.ratio.is_some()),
                    ("--minority-classes", self.minority_classes.is_some()),
                    ("--minority", self.minority.is_some()),
                ] {
                    if given {
                        return Err(usage(flag, "only goes with --profile step|exp"));
                    }
                }
                Ok(counts.clone().map(ClassCounts::Explicit))
            }
            (None, Some(kind)) => {
                let n_max = self
                    .n_max
                    .ok_or_else(|| usage("--n-max", "missing: --profile needs --n-max N"))?;
                let ratio = self
                    .ratio
                    .ok_or_else(|| usage("--ratio", "missing: --profile needs --ratio R"))?;
                match kind {
                    ProfileKind::Exp => {
                        for (flag, given) in [
                            ("--minority-classes", self.minority_classes.is_some()),
                            ("--minority", self.minority.is_some()),
                        ] {
                            if given {
                                return Err(usage(flag, "only goes with --profile step"));
                            }
                        }
                        Ok(Some(ClassCounts::Exp {
                            n_max,
                            ratio,
                            shuffle: false,
                        }))
                    }
                    ProfileKind::Step => {
                        let m = self.minority_classes;
                        let minority = match self.minority.as_deref().map(str::trim) {
                            None => MinorityChoice::Last(m.unwrap_or(5)),
                            Some(r) if r.eq_ignore_ascii_case("random") => {
                                MinorityChoice::Random(m.unwrap_or(5))
                            }
                            Some(list) => {
                                let classes = parse_class_list(list)?;
                                if m.is_some_and(|m| m != classes.len()) {
                                    return Err(usage(
                                        "--minority-classes",
                                        format!(
                                            "says {} but --minority lists {} classes",
                                            m.unwrap_or(0),
                                            classes.len()
                                        ),
                                    ));
                                }
                                MinorityChoice::Given(classes)
                            }
                        };
                        Ok(Some(ClassCounts::Step {
                            n_max,
                            ratio,
                            minority,
                        }))
                    }
                }
            }
        }
    }
}

/// Parses `--minority 5,6,7`.
fn parse_class_list(list: &str) -> Result<Vec<usize>> {
    list.split(',')
        .map(|t| {
            t.trim().parse::<usize>().map_err(|_| {
                usage(
                    "--minority",
                    format!(
                        "'{list}' is not a comma-separated list of class indices 0..K-1 or 'random'"
                    ),
                )
            })
        })
        .collect()
}

//! Per-configuration result cache, so an interrupted `cargo xtask reproduce` resumes without
//! recomputing what it already finished.
//!
//! Layout: `<out>/.cache/<experiment id>/<16 hex digits>.bin`, where the hex digits are the
//! 64-bit FNV-1a hash of the configuration's *canonical JSON* (object keys sorted, no
//! whitespace). A cache file holds:
//!
//! ```text
//! b"XTC1" | FNV-1a-64 of the payload (u64 little endian) | payload
//! payload = bincode(standard config) of (canonical config JSON: String, value: T)
//! ```
//!
//! so a file is trusted only if the magic, the checksum, the stored configuration (guards
//! against hash collisions) and the exact payload length all match; anything else is reported
//! on stderr and recomputed, never trusted.
//!
//! The key is the configuration only: when the *code* computing a value changes, put a
//! `version` field into the configuration (or run with `--no-cache`).
//!
//! bincode is used only in this module. Upstream has stopped maintaining bincode (3.0.0 is a
//! tombstone release that refuses to compile; 2.0.1 is the last working one), so it may need
//! swapping for another serde binary format one day: keep it behind [`encode`] / [`decode`].
//! Note that bincode, like every non-self-describing format, cannot store types whose serde
//! impls need `deserialize_any` (`serde_json::Value`, `#[serde(untagged)]`, `flatten`,
//! `skip_serializing_if`); cache plain structs, vectors, tuples and numbers.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;

use imbalance_datasets::write_atomic;

use crate::stop::{Interrupted, Stop};

/// File magic of a cache entry (format version 1).
const MAGIC: &[u8; 4] = b"XTC1";

/// Refuse to decode cache payloads larger than this (a corrupt length prefix must not make us
/// allocate gigabytes).
const DECODE_LIMIT: usize = 1 << 30;

/// The 64-bit FNV-1a hash of `bytes` (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
/// Stable across platforms, Rust versions and runs, unlike `std::hash`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The canonical JSON text of `config`: object keys sorted, no whitespace, numbers as
/// serde_json prints them (shortest round-trip form). Equal configurations give equal text.
pub fn canonical_json<C: Serialize + ?Sized>(config: &C) -> Result<String> {
    let value = serde_json::to_value(config).context("serialising a cache configuration")?;
    let mut out = String::new();
    write_canonical(&value, &mut out);
    Ok(out)
}

fn write_canonical(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                // A string always serialises.
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(':');
                write_canonical(&map[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The stable 64-bit hash of a configuration (FNV-1a of its canonical JSON).
/// Also handy for deriving seeds from a configuration.
pub fn config_hash<C: Serialize + ?Sized>(config: &C) -> Result<u64> {
    Ok(fnv1a64(canonical_json(config)?.as_bytes()))
}

/// Encode a cache entry (the only place that calls bincode for writing).
fn encode<T: Serialize>(config_json: &str, value: &T) -> Result<Vec<u8>> {
    let payload = bincode::serde::encode_to_vec((config_json, value), bincode::config::standard())
        .context("encoding a cache entry with bincode")?;
    let mut bytes = Vec::with_capacity(12 + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&fnv1a64(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    Ok(bytes)
}

/// Decode a cache entry, checking magic, checksum, stored configuration and length.
fn decode<T: DeserializeOwned>(bytes: &[u8], config_json: &str) -> Result<T> {
    if bytes.len() < 12 || &bytes[..4] != MAGIC {
        bail!("bad header");
    }
    let mut sum = [0u8; 8];
    sum.copy_from_slice(&bytes[4..12]);
    let payload = &bytes[12..];
    if u64::from_le_bytes(sum) != fnv1a64(payload) {
        bail!("checksum mismatch");
    }
    let cfg = bincode::config::standard().with_limit::<DECODE_LIMIT>();
    let ((stored, value), used): ((String, T), usize) =
        bincode::serde::decode_from_slice(payload, cfg).context("bincode decoding failed")?;
    if used != payload.len() {
        bail!("{} trailing bytes", payload.len() - used);
    }
    if stored != config_json {
        bail!("stored configuration differs (hash collision or edited file)");
    }
    Ok(value)
}

/// A cache directory for one experiment, with hit/miss counters (thread-safe: `&self` methods,
/// so experiments may call it from rayon workers).
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    label: String,
    read: bool,
    hits: AtomicUsize,
    misses: AtomicUsize,
    stop: Stop,
}

impl Cache {
    /// A cache in `dir` (created lazily). `label` prefixes notes on stderr. With `read == false`
    /// (`--no-cache`) existing entries are ignored, but fresh results are still written.
    pub fn new(dir: impl Into<PathBuf>, label: impl Into<String>, read: bool) -> Self {
        Self {
            dir: dir.into(),
            label: label.into(),
            read,
            hits: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
            stop: Stop::new(),
        }
    }

    /// This cache, refusing to start a computation once `stop` is requested (the safe point
    /// of an interrupted run: see [`crate::stop`]).
    pub fn with_stop(self, stop: Stop) -> Self {
        Self { stop, ..self }
    }

    /// The file that holds (or will hold) the value for `config`.
    pub fn path_for<C: Serialize + ?Sized>(&self, config: &C) -> Result<PathBuf> {
        Ok(self.dir.join(format!("{:016x}.bin", config_hash(config)?)))
    }

    /// Return the cached value for `config`, or run `compute`, store its result and return it.
    ///
    /// A missing entry is computed; a corrupt or mismatching entry is reported on stderr and
    /// recomputed. Failing to *write* an entry only prints a warning (the value is still good).
    /// After a stop request, a value that is not cached is not computed: the call returns
    /// [`Interrupted`] (a computation already running finishes and is stored).
    pub fn get_or_compute<C, T, F>(&self, config: &C, compute: F) -> Result<T>
    where
        C: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Result<T>,
    {
        let json = canonical_json(config)?;
        let path = self
            .dir
            .join(format!("{:016x}.bin", fnv1a64(json.as_bytes())));
        if self.read {
            match fs::read(&path) {
                Ok(bytes) => match decode::<T>(&bytes, &json) {
                    Ok(v) => {
                        self.hits.fetch_add(1, Ordering::Relaxed);
                        return Ok(v);
                    }
                    Err(e) => eprintln!(
                        "[{}] note: ignoring unreadable cache file {} ({e:#}); recomputing",
                        self.label,
                        path.display()
                    ),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => eprintln!(
                    "[{}] note: cannot read cache file {} ({e}); recomputing",
                    self.label,
                    path.display()
                ),
            }
        }
        if self.stop.requested() {
            return Err(Interrupted.into());
        }
        let value = compute()?;
        self.misses.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = encode(&json, &value).and_then(|b| Ok(write_atomic(&path, &b)?)) {
            eprintln!(
                "[{}] warning: could not write cache file {}: {e:#}",
                self.label,
                path.display()
            );
        }
        Ok(value)
    }

    /// `(served from cache, computed)` so far.
    pub fn stats(&self) -> (usize, usize) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The number of cache entries (`.bin` files) under `dir`, in every experiment's folder (0 if
/// there is none).
pub fn count_entries(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_entries(&p)
            } else {
                usize::from(p.extension().is_some_and(|x| x == "bin"))
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::cell::Cell;

    #[derive(Serialize)]
    struct Cfg {
        rho: f64,
        k: usize,
        name: &'static str,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Val {
        errs: Vec<f64>,
        n: u32,
    }

    #[test]
    fn fnv1a_reference_values() {
        // Reference values from the FNV specification's test vectors
        // (http://www.isthe.com/chongo/tech/comp/fnv/, FNV-1a 64-bit).
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn canonical_json_sorts_keys_recursively() {
        let v = serde_json::json!({"b": 1, "a": {"z": [1.5, {"y": 0, "x": 1}], "c": "s"}});
        assert_eq!(
            canonical_json(&v).unwrap(),
            r#"{"a":{"c":"s","z":[1.5,{"x":1,"y":0}]},"b":1}"#
        );
    }

    #[test]
    fn round_trip_hits_and_does_not_recompute() {
        let t = tempfile::tempdir().unwrap();
        let cache = Cache::new(t.path(), "test", true);
        let cfg = Cfg {
            rho: 10.0,
            k: 3,
            name: "ce",
        };
        let calls = Cell::new(0);
        let compute = || {
            calls.set(calls.get() + 1);
            Ok(Val {
                errs: vec![0.1, 0.25, f64::MIN_POSITIVE],
                n: 7,
            })
        };
        let a: Val = cache.get_or_compute(&cfg, compute).unwrap();
        let b: Val = cache.get_or_compute(&cfg, compute).unwrap();
        assert_eq!(a, b);
        assert_eq!(calls.get(), 1);
        assert_eq!(cache.stats(), (1, 1));
        // A different configuration is a different entry.
        let other = Cfg { rho: 20.0, ..cfg };
        let _: Val = cache.get_or_compute(&other, compute).unwrap();
        assert_eq!(calls.get(), 2);
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 2);
    }

    #[test]
    fn corrupt_or_truncated_files_are_recomputed_not_trusted() {
        let t = tempfile::tempdir().unwrap();
        let cache = Cache::new(t.path(), "test", true);
        let cfg = Cfg {
            rho: 1.0,
            k: 2,
            name: "la",
        };
        let good = Val {
            errs: vec![0.5; 4],
            n: 1,
        };
        let _: Val = cache
            .get_or_compute(&cfg, || {
                Ok(Val {
                    errs: good.errs.clone(),
                    n: 1,
                })
            })
            .unwrap();
        let path = cache.path_for(&cfg).unwrap();
        let original = fs::read(&path).unwrap();

        // Flip one bit inside a float: bincode alone would happily decode this.
        let mut flipped = original.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x10;
        // Truncated (as if killed mid-write without atomic rename), and plain garbage.
        let truncated = original[..original.len() - 5].to_vec();
        let garbage = b"not a cache file at all".to_vec();
        for bad in [flipped, truncated, garbage] {
            fs::write(&path, &bad).unwrap();
            let v: Val = cache
                .get_or_compute(&cfg, || {
                    Ok(Val {
                        errs: vec![0.5; 4],
                        n: 2,
                    })
                })
                .unwrap();
            assert_eq!(v.n, 2, "corrupt entry must be recomputed");
            // ... and the entry was rewritten with the good value.
            assert_eq!(fs::read(&path).unwrap().len(), original.len());
        }
    }

    #[test]
    fn wrong_type_in_cache_is_recomputed() {
        let t = tempfile::tempdir().unwrap();
        let cache = Cache::new(t.path(), "test", true);
        let cfg = Cfg {
            rho: 3.0,
            k: 2,
            name: "x",
        };
        let _: String = cache
            .get_or_compute(&cfg, || Ok("text".to_string()))
            .unwrap();
        let v: Val = cache
            .get_or_compute(&cfg, || Ok(Val { errs: vec![], n: 9 }))
            .unwrap();
        assert_eq!(v.n, 9);
    }

    #[test]
    fn no_cache_mode_recomputes_but_still_writes() {
        let t = tempfile::tempdir().unwrap();
        let cfg = Cfg {
            rho: 2.0,
            k: 2,
            name: "y",
        };
        let on = Cache::new(t.path(), "test", true);
        let _: u32 = on.get_or_compute(&cfg, || Ok(1)).unwrap();
        let off = Cache::new(t.path(), "test", false);
        let v: u32 = off.get_or_compute(&cfg, || Ok(2)).unwrap();
        assert_eq!(v, 2);
        let again: u32 = on.get_or_compute(&cfg, || Ok(3)).unwrap();
        assert_eq!(again, 2, "the fresh value refreshed the cache");
    }
}

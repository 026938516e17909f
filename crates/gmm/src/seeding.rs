//! Deterministic per-chunk random streams, so parallel sampling does not depend on
//! the number of threads: the work is cut into fixed chunks and chunk `i` always
//! draws from the same stream, whichever thread runs it.

use imbalance_core::splitmix64;
use rand::SeedableRng;
use rand_pcg::Pcg64;

/// The random stream of chunk `chunk` for a job seeded with `seed`.
///
/// The (seed, chunk) pair is hashed before seeding, because PCG states that differ
/// only in a few bits give visibly correlated streams.
pub(crate) fn chunk_rng(seed: u64, chunk: usize) -> Pcg64 {
    Pcg64::seed_from_u64(splitmix64(seed ^ splitmix64(chunk as u64)))
}

//! Deterministic per-chunk random streams, so parallel sampling does not depend on
//! the number of threads: the work is cut into fixed chunks and chunk `i` always
//! draws from the same stream, whichever thread runs it.

use rand::SeedableRng;
use rand_pcg::Pcg64;

/// SplitMix64 finaliser: a bijective mixer of 64-bit words.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random stream of chunk `chunk` for a job seeded with `seed`.
///
/// The (seed, chunk) pair is hashed before seeding, because PCG states that differ
/// only in a few bits give visibly correlated streams.
pub(crate) fn chunk_rng(seed: u64, chunk: usize) -> Pcg64 {
    Pcg64::seed_from_u64(splitmix64(seed ^ splitmix64(chunk as u64)))
}

//! Stable hashing: XXH64 written out over explicit bytes, MinHash signatures
//! and LSH band keys. Band keys and exact keys are stored by the server and
//! compared across processes, machines and Rust versions, so nothing here may
//! depend on `std::hash` (whose output is unspecified and randomly seeded).

const PRIME_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME_3: u64 = 0x1656_67B1_9E37_79F9;
const PRIME_4: u64 = 0x85EB_CA77_C2B2_AE63;
const PRIME_5: u64 = 0x27D4_EB2F_1656_67C5;

/// Seed of the hash of a shingle, the input of every MinHash permutation.
pub(crate) const SHINGLE_SEED: u64 = 0x6C69_656E_7468_6F6E;
/// Seed from which the per-permutation seeds are drawn.
const PERMUTATION_SEED: u64 = 0x6B69_656E_6E67_6869;
/// Seed of the band-key hash.
const BAND_SEED: u64 = 0x6261_6E64_6B65_7973;
/// Seed of the exact-duplicate key.
pub(crate) const EXACT_SEED: u64 = 0x6578_6163_746B_6579;
/// Seed of the hashes scoring compares terms by.
pub(crate) const TERM_SEED: u64 = 0x7465_726D_6861_7368;

/// Number of MinHash permutations.
pub const PERMUTATIONS: usize = 126;
/// LSH bands; `BANDS * ROWS_PER_BAND == PERMUTATIONS`.
pub const BANDS: usize = 42;
/// Signature rows hashed into one band key.
pub const ROWS_PER_BAND: usize = 3;

const _: () = assert!(BANDS * ROWS_PER_BAND == PERMUTATIONS);

fn read_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes.get(..8).unwrap_or(&[0; 8]));
    u64::from_le_bytes(word)
}

fn read_u32(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 4];
    word.copy_from_slice(bytes.get(..4).unwrap_or(&[0; 4]));
    u64::from(u32::from_le_bytes(word))
}

fn round(accumulator: u64, input: u64) -> u64 {
    accumulator
        .wrapping_add(input.wrapping_mul(PRIME_2))
        .rotate_left(31)
        .wrapping_mul(PRIME_1)
}

fn merge_round(accumulator: u64, value: u64) -> u64 {
    (accumulator ^ round(0, value))
        .wrapping_mul(PRIME_1)
        .wrapping_add(PRIME_4)
}

/// XXH64 of `bytes` with `seed`, as specified by the xxHash project (so any
/// other implementation reproduces stored keys).
pub fn xxh64(bytes: &[u8], seed: u64) -> u64 {
    let length = bytes.len() as u64;
    let mut stripes = bytes.chunks_exact(32);
    let mut hash = if bytes.len() >= 32 {
        let mut lanes = [
            seed.wrapping_add(PRIME_1).wrapping_add(PRIME_2),
            seed.wrapping_add(PRIME_2),
            seed,
            seed.wrapping_sub(PRIME_1),
        ];
        for stripe in stripes.by_ref() {
            for (lane, word) in lanes.iter_mut().zip(stripe.chunks_exact(8)) {
                *lane = round(*lane, read_u64(word));
            }
        }
        let [lane_1, lane_2, lane_3, lane_4] = lanes;
        let mut hash = lane_1
            .rotate_left(1)
            .wrapping_add(lane_2.rotate_left(7))
            .wrapping_add(lane_3.rotate_left(12))
            .wrapping_add(lane_4.rotate_left(18));
        for lane in lanes {
            hash = merge_round(hash, lane);
        }
        hash
    } else {
        seed.wrapping_add(PRIME_5)
    };
    hash = hash.wrapping_add(length);
    let mut rest = stripes.remainder();
    while rest.len() >= 8 {
        hash ^= round(0, read_u64(rest));
        hash = hash.rotate_left(27).wrapping_mul(PRIME_1).wrapping_add(PRIME_4);
        rest = rest.get(8..).unwrap_or_default();
    }
    if rest.len() >= 4 {
        hash ^= read_u32(rest).wrapping_mul(PRIME_1);
        hash = hash.rotate_left(23).wrapping_mul(PRIME_2).wrapping_add(PRIME_3);
        rest = rest.get(4..).unwrap_or_default();
    }
    for &byte in rest {
        hash ^= u64::from(byte).wrapping_mul(PRIME_5);
        hash = hash.rotate_left(11).wrapping_mul(PRIME_1);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(PRIME_2);
    hash ^= hash >> 29;
    hash = hash.wrapping_mul(PRIME_3);
    hash ^ (hash >> 32)
}

/// The SplitMix64 finaliser: a bijection on u64 with full avalanche, so
/// `mix(shingle ^ seed_i)` is an independent-looking permutation per seed.
const fn mix(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The fixed per-permutation seeds: a SplitMix64 stream from
/// `PERMUTATION_SEED`, computed at compile time.
const PERMUTATION_SEEDS: [u64; PERMUTATIONS] = {
    let mut seeds = [0u64; PERMUTATIONS];
    let mut state = PERMUTATION_SEED;
    let mut index = 0;
    while index < PERMUTATIONS {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        seeds[index] = mix(state);
        index += 1;
    }
    seeds
};

/// MinHash signature of a set of shingle hashes; `None` for an empty set,
/// which has no meaningful signature (and so no band keys).
pub(crate) fn minhash(shingle_hashes: &[u64]) -> Option<[u64; PERMUTATIONS]> {
    if shingle_hashes.is_empty() {
        return None;
    }
    let mut signature = [u64::MAX; PERMUTATIONS];
    for &shingle in shingle_hashes {
        for (minimum, seed) in signature.iter_mut().zip(PERMUTATION_SEEDS) {
            let value = mix(shingle ^ seed);
            if value < *minimum {
                *minimum = value;
            }
        }
    }
    Some(signature)
}

/// One key per band: XXH64 over the band number and its rows, little endian.
/// The band number is hashed in so equal rows in different bands never meet.
pub(crate) fn band_keys(signature: &[u64; PERMUTATIONS]) -> Vec<u64> {
    let mut buffer = [0u8; 4 + 8 * ROWS_PER_BAND];
    signature
        .chunks_exact(ROWS_PER_BAND)
        .zip(0u32..)
        .map(|(rows, band)| {
            let (band_bytes, row_bytes) = buffer.split_at_mut(4);
            band_bytes.copy_from_slice(&band.to_le_bytes());
            for (slot, row) in row_bytes.chunks_exact_mut(8).zip(rows) {
                slot.copy_from_slice(&row.to_le_bytes());
            }
            xxh64(&buffer, BAND_SEED)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxh64_matches_the_reference_vectors() {
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        assert_eq!(
            xxh64(b"Nobody inspects the spammish repetition", 0),
            0xFBCE_A83C_8A37_8BF1
        );
    }

    #[test]
    fn minhash_of_nothing_is_none() {
        assert!(minhash(&[]).is_none());
    }

    #[test]
    fn minhash_estimates_jaccard() {
        let left: Vec<u64> = (0..200u64)
            .map(|value| xxh64(&value.to_le_bytes(), SHINGLE_SEED))
            .collect();
        let right: Vec<u64> = (100..300u64)
            .map(|value| xxh64(&value.to_le_bytes(), SHINGLE_SEED))
            .collect();
        let (Some(left), Some(right)) = (minhash(&left), minhash(&right)) else {
            panic!("non-empty sets have signatures");
        };
        let equal = left.iter().zip(&right).filter(|(a, b)| a == b).count();
        let estimate = equal as f64 / PERMUTATIONS as f64;
        // True Jaccard is 100 / 300.
        assert!((estimate - 1.0 / 3.0).abs() < 0.12, "estimate {estimate}");
    }

    #[test]
    fn band_keys_are_one_per_band_and_band_specific() {
        let signature = [7u64; PERMUTATIONS];
        let keys = band_keys(&signature);
        assert_eq!(keys.len(), BANDS);
        // Identical rows in every band still give distinct keys.
        let mut distinct = keys;
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), BANDS);
    }
}

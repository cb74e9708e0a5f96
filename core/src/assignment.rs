//! Deterministic experiment assignment: which variant a customer is in, decided by a hash alone.
//!
//! The widget (in the browser) and the server must put a customer in the same variant without
//! talking to each other, and growth teams must be able to cross-check our numbers against other
//! tools. So assignment is the published GrowthBook "v2" scheme, reproduced bit for bit: FNV-1a 32
//! over UTF-16 code units (what JavaScript's `charCodeAt` sees), applied twice, modulo 10 000. The
//! bucket is kept as an integer so no float rounding can differ between targets; it becomes a
//! fraction only where GrowthBook itself divides, with the same IEEE-754 operation.
//!
//! Variant ranges follow GrowthBook's `getBucketRanges`: each variant's range starts where the
//! previous variant's full weight ends, and coverage only shortens each range from its end. Lowering
//! coverage therefore drops people out without moving anyone, and raising it back only adds people.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::validation::Problem;

/// Number of hash buckets: GrowthBook v2 takes the hash modulo this, so the resolution is 0.01%.
pub const BUCKETS: u32 = 10_000;

/// How far the weights may sum from 1 before they are ignored, as in GrowthBook (0.99..=1.01).
pub const WEIGHT_TOLERANCE: f64 = 0.01;

const FNV_OFFSET_BASIS: u32 = 2_166_136_261;
const FNV_PRIME: u32 = 16_777_619;

/// An A/B test of offers or prompts, as configured by the growth team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Stable identifier, used in exposure logs and reports.
    pub key: String,
    /// Hash seed; defaults to `key`. Set it to re-randomise a rerun without renaming the experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// Share of customers enrolled, 0 to 1; the rest see the default experience and are not logged.
    #[serde(default = "full_coverage")]
    pub coverage: f64,
    /// The arms of the test, in a fixed order: reordering them moves people between arms.
    pub variants: Vec<Variant>,
    /// A paused experiment assigns nobody, so nothing new is exposed while it is off.
    #[serde(default = "active_by_default")]
    pub active: bool,
}

/// One arm of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Stable identifier, used in exposure logs and reports.
    pub key: String,
    /// Share of enrolled customers, weights summing to 1.
    pub weight: f64,
    /// A holdout gets no offer or prompt at all: it measures what the flow saves in the first place.
    #[serde(default)]
    pub holdout: bool,
}

/// Where a customer landed: the variant and the bucket that put them there (kept for audit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assignment<'a> {
    /// Position of the variant in [`Experiment::variants`].
    pub index: usize,
    /// The variant itself.
    pub variant: &'a Variant,
    /// The customer's hash bucket, `0..BUCKETS`.
    pub bucket: u32,
}

fn full_coverage() -> f64 {
    1.0
}

fn active_by_default() -> bool {
    true
}

/// FNV-1a 32 over the UTF-16 code units of `s`, exactly as a JavaScript implementation using
/// `charCodeAt` computes it (so a character outside the BMP is hashed as its two surrogates).
pub fn fnv1a32(s: &str) -> u32 {
    fnv1a32_units(FNV_OFFSET_BASIS, s)
}

fn fnv1a32_units(state: u32, s: &str) -> u32 {
    s.encode_utf16().fold(state, |h, unit| {
        (h ^ u32::from(unit)).wrapping_mul(FNV_PRIME)
    })
}

/// GrowthBook v2 bucket of `unit_id` under `seed`, as an integer in `0..BUCKETS`.
///
/// Integer so that callers comparing or storing it never depend on float formatting.
pub fn hash_bucket(seed: &str, unit_id: &str) -> u32 {
    // Hashing the seed then the id continues one FNV state: the same as hashing `seed + id`
    // without allocating the concatenation.
    let inner = fnv1a32_units(fnv1a32(seed), unit_id);
    fnv1a32(&inner.to_string()) % BUCKETS
}

/// GrowthBook v2 hash of `unit_id` under `seed`, in `[0, 1)`: the value its test vectors list.
pub fn hash_v2(seed: &str, unit_id: &str) -> f64 {
    bucket_fraction(hash_bucket(seed, unit_id))
}

/// The one tolerance test, shared by validation and assignment so a config that validates is never
/// silently re-weighted (NaN fails it, as in GrowthBook).
fn sums_to_one(total: f64) -> bool {
    (1.0 - WEIGHT_TOLERANCE..=1.0 + WEIGHT_TOLERANCE).contains(&total)
}

fn bucket_fraction(bucket: u32) -> f64 {
    // The same single division JavaScript performs, so the result is bit-identical.
    f64::from(bucket) / f64::from(BUCKETS)
}

impl Experiment {
    /// The seed actually hashed: the explicit one, else the key.
    pub fn seed(&self) -> &str {
        self.seed.as_deref().unwrap_or(&self.key)
    }

    /// Each variant's `[start, end)` range of the hash, as GrowthBook's `getBucketRanges` builds it.
    ///
    /// Coverage is clamped to `[0, 1]`; weights that do not sum to 1 (within
    /// [`WEIGHT_TOLERANCE`]) are replaced by equal weights, so a broken config still splits fairly
    /// instead of leaving a variant empty.
    pub fn bucket_ranges(&self) -> Vec<(f64, f64)> {
        let n = self.variants.len();
        if n == 0 {
            return Vec::new();
        }
        let coverage = self.coverage.clamp(0.0, 1.0);
        let total: f64 = self.variants.iter().map(|v| v.weight).sum();
        let equal = 1.0 / n as f64;
        let weights_ok = sums_to_one(total);
        let mut cumulative = 0.0;
        self.variants
            .iter()
            .map(|v| {
                let weight = if weights_ok { v.weight } else { equal };
                let start = cumulative;
                cumulative += weight;
                (start, start + coverage * weight)
            })
            .collect()
    }

    /// Reports what would make this experiment unfair or unreadable, under `path`.
    pub fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if self.key.trim().is_empty() {
            problems.push(Problem::new(
                format!("{path}.key"),
                "the experiment key is empty",
            ));
        }
        if self.seed.as_deref().is_some_and(|s| s.is_empty()) {
            problems.push(Problem::new(
                format!("{path}.seed"),
                "the seed is empty; leave it out to hash with the key",
            ));
        }
        if !(0.0..=1.0).contains(&self.coverage) {
            problems.push(Problem::new(
                format!("{path}.coverage"),
                format!("coverage must be between 0 and 1, got {}", self.coverage),
            ));
        }
        if self.variants.len() < 2 {
            problems.push(Problem::new(
                format!("{path}.variants"),
                format!(
                    "an experiment needs at least 2 variants, got {}",
                    self.variants.len()
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, variant) in self.variants.iter().enumerate() {
            let at = format!("{path}.variants[{i}]");
            if variant.key.trim().is_empty() {
                problems.push(Problem::new(
                    format!("{at}.key"),
                    "the variant key is empty",
                ));
            } else if !seen.insert(variant.key.as_str()) {
                problems.push(Problem::new(
                    format!("{at}.key"),
                    format!("the variant key `{}` is used twice", variant.key),
                ));
            }
            if !(variant.weight.is_finite() && variant.weight >= 0.0) {
                problems.push(Problem::new(
                    format!("{at}.weight"),
                    format!("a weight must be 0 or more, got {}", variant.weight),
                ));
            }
        }
        let total: f64 = self.variants.iter().map(|v| v.weight).sum();
        if !self.variants.is_empty() && !sums_to_one(total) {
            problems.push(Problem::new(
                format!("{path}.variants"),
                format!("the weights must sum to 1 (within {WEIGHT_TOLERANCE}), got {total}"),
            ));
        }
    }
}

/// The variant `unit_id` (usually the customer id) is in, or `None` when the experiment is paused,
/// has no variants, or the unit falls outside coverage (then it sees the default experience and
/// must not be logged as exposed).
pub fn assign<'a>(experiment: &'a Experiment, unit_id: &str) -> Option<Assignment<'a>> {
    if !experiment.active || experiment.variants.is_empty() {
        return None;
    }
    let bucket = hash_bucket(experiment.seed(), unit_id);
    let n = bucket_fraction(bucket);
    let index = experiment
        .bucket_ranges()
        .iter()
        .position(|&(start, end)| n >= start && n < end)?;
    let variant = experiment.variants.get(index)?;
    Some(Assignment {
        index,
        variant,
        bucket,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn experiment(coverage: f64, weights: &[f64]) -> Experiment {
        Experiment {
            key: "exp".into(),
            seed: None,
            coverage,
            variants: weights
                .iter()
                .enumerate()
                .map(|(i, &weight)| Variant {
                    key: format!("v{i}"),
                    weight,
                    holdout: false,
                })
                .collect(),
            active: true,
        }
    }

    fn paths(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.path.as_str()).collect()
    }

    #[test]
    fn the_published_growthbook_v2_vectors_are_reproduced_exactly() {
        assert_eq!(hash_bucket("seed", "a"), 505);
        assert_eq!(hash_v2("seed", "a"), 0.0505);
        assert_eq!(hash_bucket("foo", "ab"), 2575);
        assert_eq!(hash_v2("foo", "ab"), 0.2575);
    }

    /// FNV-1a over explicit UTF-16 code units, written out the long way as the reference.
    fn reference_fnv(units: &[u16]) -> u32 {
        let mut h: u32 = 2_166_136_261;
        for &u in units {
            h ^= u32::from(u);
            h = h.wrapping_mul(16_777_619);
        }
        h
    }

    #[test]
    fn a_character_outside_the_bmp_is_hashed_as_its_two_surrogates() {
        // U+1F600 is the surrogate pair D83D DE00 in UTF-16 (4 bytes F0 9F 98 80 in UTF-8).
        let id = "user-\u{1F600}-\u{4E2D}";
        let mut units: Vec<u16> = "seeduser-".encode_utf16().collect();
        units.extend([0xD83D, 0xDE00, u16::from(b'-'), 0x4E2D]);
        let inner = reference_fnv(&units);
        let expected =
            reference_fnv(&inner.to_string().encode_utf16().collect::<Vec<_>>()) % 10_000;
        assert_eq!(hash_bucket("seed", id), expected);

        // Hashing UTF-8 bytes instead would disagree with the browser; make sure this case tells.
        let bytes: Vec<u16> = "seed".bytes().chain(id.bytes()).map(u16::from).collect();
        let utf8_inner = reference_fnv(&bytes);
        assert_ne!(
            inner, utf8_inner,
            "the UTF-16 and UTF-8 hashes must differ here"
        );
    }

    #[test]
    fn a_paused_or_empty_experiment_assigns_nobody() {
        let mut e = experiment(1.0, &[0.5, 0.5]);
        e.active = false;
        assert_eq!(assign(&e, "c1"), None);
        let empty = experiment(1.0, &[]);
        assert_eq!(assign(&empty, "c1"), None);
    }

    #[test]
    fn zero_coverage_assigns_nobody_and_full_coverage_everybody() {
        let none = experiment(0.0, &[0.5, 0.5]);
        let all = experiment(1.0, &[0.5, 0.5]);
        for i in 0..200 {
            let id = format!("c{i}");
            assert_eq!(assign(&none, &id), None);
            assert!(assign(&all, &id).is_some());
        }
    }

    #[test]
    fn weights_that_do_not_sum_to_one_fall_back_to_equal_weights() {
        let e = experiment(1.0, &[3.0, 1.0]);
        assert_eq!(e.bucket_ranges(), vec![(0.0, 0.5), (0.5, 1.0)]);
    }

    #[test]
    fn lower_coverage_shrinks_each_range_in_place() {
        let e = experiment(0.5, &[0.25, 0.75]);
        assert_eq!(e.bucket_ranges(), vec![(0.0, 0.125), (0.25, 0.625)]);
    }

    #[test]
    fn the_seed_defaults_to_the_key_and_an_explicit_seed_is_used() {
        let mut e = experiment(1.0, &[0.5, 0.5]);
        assert_eq!(e.seed(), "exp");
        e.seed = Some("rerun".into());
        let a = assign(&e, "c1").unwrap();
        assert_eq!(a.bucket, hash_bucket("rerun", "c1"));
    }

    #[test]
    fn an_experiment_reads_with_defaults_and_refuses_unknown_fields() {
        let e: Experiment = serde_json::from_str(
            r#"{"key":"k","variants":[{"key":"a","weight":0.5},{"key":"b","weight":0.5,"holdout":true}]}"#,
        )
        .unwrap();
        assert_eq!(e.coverage, 1.0);
        assert!(e.active);
        assert_eq!(e.seed(), "k");
        assert!(!e.variants[0].holdout && e.variants[1].holdout);
        let err = serde_json::from_str::<Experiment>(r#"{"key":"k","variants":[],"sneaky":1}"#)
            .unwrap_err();
        assert!(err.to_string().contains("sneaky"), "{err}");
    }

    #[test]
    fn a_sound_experiment_has_no_problems() {
        let mut problems = Vec::new();
        experiment(0.8, &[0.34, 0.33, 0.33]).validate("experiments[0]", &mut problems);
        assert!(problems.is_empty(), "{:?}", paths(&problems));
    }

    #[test]
    fn validation_names_each_broken_field() {
        let mut e = experiment(1.5, &[0.7, -0.2]);
        e.key = " ".into();
        e.variants[1].key = "v0".into();
        let mut problems = Vec::new();
        e.validate("experiments[2]", &mut problems);
        let p = paths(&problems);
        assert!(p.contains(&"experiments[2].key"), "{p:?}");
        assert!(p.contains(&"experiments[2].coverage"), "{p:?}");
        assert!(p.contains(&"experiments[2].variants[1].key"), "{p:?}");
        assert!(p.contains(&"experiments[2].variants[1].weight"), "{p:?}");
        assert!(
            p.contains(&"experiments[2].variants"),
            "weights sum to 0.5: {p:?}"
        );
    }

    #[test]
    fn a_single_variant_is_not_an_experiment() {
        let mut problems = Vec::new();
        experiment(1.0, &[1.0]).validate("e", &mut problems);
        assert_eq!(paths(&problems), vec!["e.variants"]);
        assert!(problems[0].message.contains("at least 2"));
    }

    proptest! {
        #[test]
        fn the_hash_is_a_fraction_in_zero_to_one(seed in ".{0,12}", id in ".{0,24}") {
            let h = hash_v2(&seed, &id);
            prop_assert!((0.0..1.0).contains(&h));
            prop_assert!(hash_bucket(&seed, &id) < BUCKETS);
        }

        #[test]
        fn assignment_is_deterministic(id in ".{0,24}", coverage in 0.0f64..=1.0) {
            let e = experiment(coverage, &[0.2, 0.3, 0.5]);
            let copy = e.clone();
            prop_assert_eq!(assign(&e, &id), assign(&copy, &id));
        }

        #[test]
        fn raising_coverage_never_moves_an_assigned_unit(
            id in ".{0,24}",
            low in 0.0f64..=1.0,
            extra in 0.0f64..=1.0,
            weights in prop::collection::vec(0.0f64..1.0, 2..5),
        ) {
            let total: f64 = weights.iter().sum();
            let weights: Vec<f64> = if total > 0.0 {
                weights.iter().map(|w| w / total).collect()
            } else {
                weights
            };
            let before = experiment(low, &weights);
            let after = experiment((low + extra).min(1.0), &weights);
            if let Some(a) = assign(&before, &id) {
                let b = assign(&after, &id);
                prop_assert_eq!(b.map(|b| b.index), Some(a.index));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn equal_weights_split_many_ids_evenly(key in "[a-z0-9-]{1,16}") {
            let mut e = experiment(1.0, &[0.25, 0.25, 0.25, 0.25]);
            e.key = key;
            let n = 10_000;
            let mut counts = [0u32; 4];
            for i in 0..n {
                counts[assign(&e, &format!("customer-{i}")).unwrap().index] += 1;
            }
            for c in counts {
                let share = f64::from(c) / f64::from(n);
                prop_assert!((share - 0.25).abs() < 0.02, "share {} in {:?}", share, counts);
            }
        }
    }
}

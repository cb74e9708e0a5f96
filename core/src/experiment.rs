//! An experiment's lifecycle as config changes: what a running experiment forbids, and what
//! shipping a variant writes.
//!
//! Experiments live in the app's config, so every lifecycle step is a new config version: visible
//! in the history and undone by a restore. Two rules make results trustworthy:
//!
//! - a running experiment's split is frozen: changing its variants, weights, coverage or seed
//!   moves customers between arms (or in and out), which biases every number already collected,
//!   so [`split_changes`] names each such change and the server refuses it (stop first; a rerun
//!   gets a new seed);
//! - shipping a variant ([`ship`]) writes its rules in for everyone: the rules conditioned on the
//!   shipped variant lose that condition, the rules of the other variants go, and the experiment
//!   leaves the config, so nobody is assigned any more.

use crate::assignment::Experiment;
use crate::config::{AppConfig, Condition};
use crate::validation::Problem;

/// Every change `new` makes to the split of an experiment that runs in both `old` and `new`:
/// its variants (keys, order, holdouts), weights, coverage or seed. Empty when none.
pub fn split_changes(old: &AppConfig, new: &AppConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, after) in new.experiments.iter().enumerate() {
        let Some(before) = old
            .experiments
            .iter()
            .find(|x| x.key == after.key && x.active)
        else {
            continue;
        };
        if !after.active {
            continue;
        }
        let path = format!("experiments[{i}]");
        let why = "changes the split of a running experiment, which moves customers between arms \
                   and biases its results; stop it first (a rerun gets a new seed)";
        if !same_arms(before, after) {
            problems.push(Problem::new(format!("{path}.variants"), why));
        }
        if before.coverage != after.coverage {
            problems.push(Problem::new(format!("{path}.coverage"), why));
        }
        if before.seed() != after.seed() {
            problems.push(Problem::new(format!("{path}.seed"), why));
        }
    }
    problems
}

fn same_arms(a: &Experiment, b: &Experiment) -> bool {
    a.variants.len() == b.variants.len()
        && a.variants
            .iter()
            .zip(&b.variants)
            .all(|(x, y)| x.key == y.key && x.weight == y.weight && x.holdout == y.holdout)
}

/// The config with `variant` of `experiment` shipped: its rules apply to everyone, the other
/// variants' rules are gone, and so is the experiment. Refused (naming the field) when there is
/// no such experiment or variant, or the variant is a holdout (shipping "no offer at all" is a
/// config edit, not an experiment result).
pub fn ship(config: &AppConfig, experiment: &str, variant: &str) -> Result<AppConfig, Problem> {
    let Some(x) = config.experiments.iter().find(|x| x.key == experiment) else {
        return Err(Problem::new(
            "experiment",
            format!("{experiment:?} is not an experiment of this config"),
        ));
    };
    let Some(v) = x.variants.iter().find(|v| v.key == variant) else {
        return Err(Problem::new(
            "variant",
            format!(
                "{variant:?} is not a variant of {experiment:?} (variants: {})",
                x.variants
                    .iter()
                    .map(|v| v.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    if v.holdout {
        return Err(Problem::new(
            "variant",
            "a holdout cannot be shipped: it measures the flow itself",
        ));
    }
    let mut shipped = config.clone();
    shipped.experiments.retain(|x| x.key != experiment);
    shipped.rules.retain_mut(|rule| {
        let mut keep = true;
        rule.when.retain(|c| match c {
            Condition::Variant {
                experiment: e,
                variant: other,
            } if e == experiment => {
                keep &= other == variant;
                false
            }
            _ => true,
        });
        keep
    });
    Ok(shipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AppConfig {
        let mut c = AppConfig {
            experiments: serde_json::from_value(serde_json::json!([{
                "key": "depth",
                "variants": [
                    { "key": "control", "weight": 0.5 },
                    { "key": "deeper", "weight": 0.4 },
                    { "key": "holdout", "weight": 0.1, "holdout": true }
                ]
            }]))
            .unwrap(),
            ..AppConfig::default()
        };
        c.rules.insert(
            0,
            serde_json::from_value(serde_json::json!({
                "id": "deeper", "reasons": ["too_expensive"],
                "when": [{ "variant": { "experiment": "depth", "variant": "deeper" } }],
                "offer": "pause_3"
            }))
            .unwrap(),
        );
        c.rules.insert(
            0,
            serde_json::from_value(serde_json::json!({
                "id": "control_only", "reasons": ["not_using"],
                "when": [{ "variant": { "experiment": "depth", "variant": "control" } }],
                "offer": "pause_2"
            }))
            .unwrap(),
        );
        c
    }

    #[test]
    fn a_running_experiments_split_is_frozen() {
        let old = config();
        let mut new = old.clone();
        new.experiments[0].variants[0].weight = 0.6;
        new.experiments[0].variants[1].weight = 0.3;
        new.experiments[0].coverage = 0.5;
        let paths: Vec<String> = split_changes(&old, &new)
            .into_iter()
            .map(|p| p.path)
            .collect();
        assert_eq!(
            paths,
            ["experiments[0].variants", "experiments[0].coverage"]
        );
        // Stopped first, then anything goes; and a stopped one may be restarted with a new split.
        new.experiments[0].active = false;
        assert!(split_changes(&old, &new).is_empty());
        let mut stopped = old.clone();
        stopped.experiments[0].active = false;
        let mut rerun = stopped.clone();
        rerun.experiments[0].active = true;
        rerun.experiments[0].coverage = 0.5;
        assert!(split_changes(&stopped, &rerun).is_empty());
        assert!(
            split_changes(&old, &old).is_empty(),
            "no change, no problem"
        );
    }

    #[test]
    fn shipping_a_variant_writes_its_rules_in_for_everyone() {
        let shipped = ship(&config(), "depth", "deeper").unwrap();
        assert!(shipped.experiments.is_empty());
        let deeper = shipped.rules.iter().find(|r| r.id == "deeper").unwrap();
        assert!(deeper.when.is_empty(), "applies to everyone now");
        assert!(
            shipped.rules.iter().all(|r| r.id != "control_only"),
            "the other variants' rules are gone"
        );
        assert!(
            shipped.validate().errors.is_empty(),
            "{:?}",
            shipped.validate()
        );
    }

    #[test]
    fn shipping_refuses_what_is_not_there_or_a_holdout() {
        assert_eq!(
            ship(&config(), "nope", "deeper").unwrap_err().path,
            "experiment"
        );
        assert_eq!(
            ship(&config(), "depth", "nope").unwrap_err().path,
            "variant"
        );
        assert_eq!(
            ship(&config(), "depth", "holdout").unwrap_err().path,
            "variant"
        );
    }
}

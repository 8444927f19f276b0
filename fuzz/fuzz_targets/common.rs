//! The guard every target checks against: every built-in detector, both directions.

use palisade_guard::{Guard, Policy};

pub fn guard() -> Guard {
    let policy = Policy::from_yaml_str(include_str!("../every-detector.yaml"), "every-detector.yaml")
        .expect("the fuzz policy is valid");
    Guard::new(policy).expect("the fuzz policy compiles")
}

//! One module per subcommand.

pub mod chat;
pub mod eval;
pub mod eval_hallucination;
pub mod fetch;
pub mod fleet_report;
pub mod fleet_sim;
mod lines;
pub mod policy;
pub mod scan;
pub mod serve;

//! Local differential privacy: randomized response for per-request bits,
//! two-sided geometric noise for counts, a persistent daily budget ledger,
//! and the estimators a fleet uses to de-bias what devices report.

mod ledger;
mod mechanisms;
mod reporter;

pub use ledger::{BudgetLedger, LedgerError, Spend};
pub use mechanisms::{
    Estimate, GeometricNoise, RandomizedResponse, debias_noisy_sum, debias_randomized_response,
};
pub use reporter::{DpParams, DpReport, DpReporter};

//! Turns one request into a differentially private report within budget.

use std::time::SystemTime;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::ledger::{BudgetLedger, LedgerError, Spend};
use super::mechanisms::{GeometricNoise, RandomizedResponse};

/// The mechanisms' parameters, exported so a fleet can de-bias.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpParams {
    /// What one report spends.
    pub epsilon_per_report: f64,
    /// Randomized response for the `refused` and `flagged` bits (ε/3 each).
    pub bits: RandomizedResponse,
    /// Noise for the output-token count (ε/3).
    pub tokens: GeometricNoise,
}

impl DpParams {
    /// Splits `epsilon_per_report` evenly over the three items.
    pub fn new(epsilon_per_report: f64, output_token_clip: u32) -> Self {
        let third = epsilon_per_report / 3.0;
        Self {
            epsilon_per_report,
            bits: RandomizedResponse::new(third),
            tokens: GeometricNoise::new(third, output_token_clip),
        }
    }
}

/// What a device exports for one request in `dp` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpReport {
    /// The randomized `refused` bit.
    pub refused: bool,
    /// The randomized `flagged` bit (any rule fired).
    pub flagged: bool,
    /// The clipped output-token count plus noise (may be negative).
    pub output_tokens: i64,
}

/// Produces reports while the daily budget lasts.
#[derive(Debug)]
pub struct DpReporter {
    params: DpParams,
    ledger: BudgetLedger,
    rng: StdRng,
}

impl DpReporter {
    /// A reporter with `params`, spending from `ledger`, randomness from the OS.
    pub fn new(params: DpParams, ledger: BudgetLedger) -> Self {
        Self::with_rng(params, ledger, StdRng::from_os_rng())
    }

    /// A reporter with explicit randomness (simulations and tests).
    pub fn with_rng(params: DpParams, ledger: BudgetLedger, rng: StdRng) -> Self {
        Self {
            params,
            ledger,
            rng,
        }
    }

    /// The parameters.
    pub fn params(&self) -> DpParams {
        self.params
    }

    /// The ledger.
    pub fn ledger(&self) -> &BudgetLedger {
        &self.ledger
    }

    /// The report for one request, or `None` when today's budget cannot pay
    /// for it. The budget is recorded durably before the report exists; if
    /// that fails, nothing is reported.
    pub fn report(
        &mut self,
        refused: bool,
        flagged: bool,
        output_tokens: u64,
        now: SystemTime,
    ) -> Result<Option<DpReport>, LedgerError> {
        match self.ledger.try_spend(self.params.epsilon_per_report, now)? {
            Spend::Exhausted => Ok(None),
            Spend::Granted => Ok(Some(DpReport {
                refused: self.params.bits.randomize(refused, &mut self.rng),
                flagged: self.params.bits.randomize(flagged, &mut self.rng),
                output_tokens: self.params.tokens.noisy(output_tokens, &mut self.rng),
            })),
        }
    }
}

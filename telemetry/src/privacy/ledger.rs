//! The persistent per-device privacy budget: what has been spent today.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Why the ledger could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The ledger file could not be read or written.
    #[error("privacy budget ledger {path}: {source}")]
    Io {
        /// The ledger file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The outcome of [`BudgetLedger::try_spend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// The budget was spent and recorded durably: the report may be sent.
    Granted,
    /// Spending would exceed today's budget: nothing was spent, send nothing.
    Exhausted,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
struct State {
    /// Days since 1970-01-01 (UTC).
    day: u64,
    /// Epsilon spent on `day`.
    spent: f64,
}

/// A per-device, per-UTC-day budget. With a file, every spend is written
/// (to a temporary file, synced, then renamed) before it is granted, so a
/// crash or restart can never give the budget back; a ledger that cannot be
/// read counts today as fully spent.
#[derive(Debug)]
pub struct BudgetLedger {
    path: Option<PathBuf>,
    per_day: f64,
    state: State,
}

/// Tolerance for floating-point sums of per-report budgets.
const SLACK: f64 = 1e-9;

fn day_of(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0)
}

impl BudgetLedger {
    /// Opens (or starts) the ledger at `path` with `per_day` epsilon per day.
    /// An unreadable or corrupt ledger fails closed: today is spent.
    pub fn open(path: &Path, per_day: f64, now: SystemTime) -> Result<Self, LedgerError> {
        let today = day_of(now);
        let state = match fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<State>(&bytes) {
                Ok(state) if state.spent.is_finite() && state.spent >= 0.0 => state,
                _ => State {
                    day: today,
                    spent: f64::INFINITY,
                },
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State {
                day: today,
                spent: 0.0,
            },
            Err(source) => {
                return Err(LedgerError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| LedgerError::Io {
                path: path.to_owned(),
                source,
            })?;
        }
        Ok(Self {
            path: Some(path.to_owned()),
            per_day,
            state,
        })
    }

    /// A ledger kept in memory only: for simulations, never for devices.
    pub fn in_memory(per_day: f64, now: SystemTime) -> Self {
        Self {
            path: None,
            per_day,
            state: State {
                day: day_of(now),
                spent: 0.0,
            },
        }
    }

    /// The daily budget.
    pub fn per_day(&self) -> f64 {
        self.per_day
    }

    /// Epsilon spent on the current day as of `now` (capped at the budget).
    pub fn spent(&self, now: SystemTime) -> f64 {
        if day_of(now) > self.state.day {
            0.0
        } else {
            self.state.spent.min(self.per_day)
        }
    }

    /// Spends `epsilon` if today's budget allows it, recording it durably
    /// first. A clock set back does not reopen a spent day.
    pub fn try_spend(&mut self, epsilon: f64, now: SystemTime) -> Result<Spend, LedgerError> {
        let today = day_of(now);
        let mut next = self.state;
        if today > next.day {
            next = State {
                day: today,
                spent: 0.0,
            };
        }
        if epsilon.is_nan() || epsilon <= 0.0 || next.spent + epsilon > self.per_day + SLACK {
            return Ok(Spend::Exhausted);
        }
        next.spent += epsilon;
        if let Some(path) = &self.path {
            write_atomic(path, &next).map_err(|source| LedgerError::Io {
                path: path.clone(),
                source,
            })?;
        }
        self.state = next;
        Ok(Spend::Granted)
    }
}

fn write_atomic(path: &Path, state: &State) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(state).map_err(std::io::Error::other)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(day: u64, secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(day * 86_400 + secs)
    }

    #[test]
    fn spends_until_the_budget_and_resets_the_next_day() {
        let mut l = BudgetLedger::in_memory(1.0, at(100, 0));
        for _ in 0..4 {
            assert_eq!(l.try_spend(0.25, at(100, 10)).expect("mem"), Spend::Granted);
        }
        assert_eq!(
            l.try_spend(0.25, at(100, 20)).expect("mem"),
            Spend::Exhausted
        );
        assert!((l.spent(at(100, 30)) - 1.0).abs() < 1e-12);
        assert_eq!(
            l.try_spend(0.25, at(99, 0)).expect("mem"),
            Spend::Exhausted,
            "clock set back"
        );
        assert_eq!(l.try_spend(0.25, at(101, 5)).expect("mem"), Spend::Granted);
        assert!((l.spent(at(101, 6)) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn survives_restarts_and_fails_closed_when_corrupt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/ledger.json");
        let mut l = BudgetLedger::open(&path, 1.0, at(5, 0)).expect("open");
        assert_eq!(l.try_spend(0.75, at(5, 1)).expect("io"), Spend::Granted);
        drop(l);
        let mut again = BudgetLedger::open(&path, 1.0, at(5, 2)).expect("reopen");
        assert_eq!(
            again.try_spend(0.5, at(5, 3)).expect("io"),
            Spend::Exhausted
        );
        assert_eq!(again.try_spend(0.25, at(5, 3)).expect("io"), Spend::Granted);
        fs::write(&path, b"{not json").expect("write");
        let mut corrupt = BudgetLedger::open(&path, 1.0, at(5, 4)).expect("open");
        assert_eq!(
            corrupt.try_spend(0.01, at(5, 5)).expect("io"),
            Spend::Exhausted
        );
        assert_eq!(
            corrupt.try_spend(0.01, at(6, 0)).expect("io"),
            Spend::Granted
        );
    }
}

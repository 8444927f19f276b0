//! What a fleet simulation generated: per device, and summed over the groups
//! a dashboard shows for a minimum group size `k`.

use std::collections::BTreeMap;

use serde::Serialize;

/// One simulated device and what it recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceTruth {
    /// Its index in the fleet.
    pub index: usize,
    /// `palisade.device.class`.
    pub device_class: String,
    /// `gen_ai.request.model`.
    pub model: String,
    /// `palisade.policy.hash`.
    pub policy_hash: String,
    /// `aggregate` or `dp`.
    pub privacy: String,
    /// Where its Prometheus text is served.
    pub metrics_url: String,
    /// Requests recorded.
    pub requests: u64,
    /// Requests refused (input or output guard).
    pub refusals: u64,
    /// Requests reported under differential privacy (`dp` devices only).
    pub dp_reports: u64,
    /// True refusals among the reported requests (`dp` devices only).
    pub dp_true_refusals: u64,
}

impl DeviceTruth {
    fn group(&self) -> (&str, &str, &str) {
        (&self.model, &self.policy_hash, &self.device_class)
    }
}

/// Totals over the devices of the groups that at least `k` devices report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VisibleTotals {
    /// The minimum group size.
    pub k: usize,
    /// Devices in shown groups.
    pub devices: usize,
    /// Requests of shown `aggregate` devices.
    pub requests: u64,
    /// Refusals of shown `aggregate` devices.
    pub refusals: u64,
    /// Reports of shown `dp` devices.
    pub dp_reports: u64,
    /// True refusals among those reports.
    pub dp_true_refusals: u64,
}

impl VisibleTotals {
    /// The true refusal rate among the shown `dp` devices' reports.
    pub fn dp_true_refusal_rate(&self) -> f64 {
        if self.dp_reports == 0 {
            0.0
        } else {
            self.dp_true_refusals as f64 / self.dp_reports as f64
        }
    }
}

/// The ground truth of a whole simulation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroundTruth {
    /// Every device, in fleet order.
    pub devices: Vec<DeviceTruth>,
}

impl GroundTruth {
    /// Devices per (model, policy hash, device class) group: the groups of
    /// the device-count gauge (every simulated device has the same app id).
    pub fn group_sizes(&self) -> BTreeMap<(&str, &str, &str), usize> {
        let mut sizes = BTreeMap::new();
        for d in &self.devices {
            *sizes.entry(d.group()).or_insert(0) += 1;
        }
        sizes
    }

    /// Totals over the groups of at least `k` devices.
    pub fn visible(&self, k: usize) -> VisibleTotals {
        let sizes = self.group_sizes();
        let mut t = VisibleTotals {
            k,
            devices: 0,
            requests: 0,
            refusals: 0,
            dp_reports: 0,
            dp_true_refusals: 0,
        };
        for d in &self.devices {
            if sizes.get(&d.group()).copied().unwrap_or(0) < k {
                continue;
            }
            t.devices += 1;
            if d.privacy == "dp" {
                t.dp_reports += d.dp_reports;
                t.dp_true_refusals += d.dp_true_refusals;
            } else {
                t.requests += d.requests;
                t.refusals += d.refusals;
            }
        }
        t
    }

    /// Totals over every device (`k` = 1).
    pub fn all(&self) -> VisibleTotals {
        self.visible(1)
    }
}

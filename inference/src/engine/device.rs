//! Device selection: the CPU, or a GPU when the crate is built with the `cuda` or `metal`
//! feature.

use candle_core::Device;

use crate::error::LoadError;

/// The device a model runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU (always available).
    #[default]
    Cpu,
    /// The CUDA GPU with this ordinal (needs the `cuda` feature).
    Cuda(usize),
    /// The Metal GPU with this ordinal (needs the `metal` feature).
    Metal(usize),
}

impl DeviceChoice {
    /// Opens the device. A GPU whose backend is not compiled in, or that cannot be opened, is a
    /// [`LoadError::DeviceUnavailable`] saying how to get it (or to use the CPU).
    pub fn open(self) -> Result<Device, LoadError> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda(ordinal) => open_cuda(ordinal),
            DeviceChoice::Metal(ordinal) => open_metal(ordinal),
        }
    }
}

/// A `--device` value that is not `cpu`, `cuda[:N]` or `metal[:N]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown device `{0}`: expected cpu, cuda, cuda:N, metal or metal:N")]
pub struct DeviceParseError(pub String);

impl std::str::FromStr for DeviceChoice {
    type Err = DeviceParseError;

    /// Parses `cpu`, `cuda`, `cuda:N`, `metal` or `metal:N` (ordinal 0 when omitted).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DeviceParseError(s.to_string());
        let (kind, ordinal) = match s.trim().split_once(':') {
            Some((kind, n)) => (kind, Some(n.parse::<usize>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        match (kind.to_ascii_lowercase().as_str(), ordinal) {
            ("cpu", None) => Ok(DeviceChoice::Cpu),
            ("cuda", n) => Ok(DeviceChoice::Cuda(n.unwrap_or(0))),
            ("metal", n) => Ok(DeviceChoice::Metal(n.unwrap_or(0))),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    /// The `--device` spelling: `cpu`, `cuda:N`, `metal:N`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
            DeviceChoice::Metal(n) => write!(f, "metal:{n}"),
        }
    }
}

fn unavailable(device: DeviceChoice, reason: String) -> LoadError {
    LoadError::DeviceUnavailable { device, reason }
}

#[cfg(feature = "cuda")]
fn open_cuda(ordinal: usize) -> Result<Device, LoadError> {
    Device::new_cuda(ordinal).map_err(|e| unavailable(DeviceChoice::Cuda(ordinal), e.to_string()))
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(ordinal: usize) -> Result<Device, LoadError> {
    Err(unavailable(
        DeviceChoice::Cuda(ordinal),
        "this build has no CUDA backend (cargo feature `cuda` is off)".to_string(),
    ))
}

#[cfg(feature = "metal")]
fn open_metal(ordinal: usize) -> Result<Device, LoadError> {
    Device::new_metal(ordinal).map_err(|e| unavailable(DeviceChoice::Metal(ordinal), e.to_string()))
}

#[cfg(not(feature = "metal"))]
fn open_metal(ordinal: usize) -> Result<Device, LoadError> {
    Err(unavailable(
        DeviceChoice::Metal(ordinal),
        "this build has no Metal backend (cargo feature `metal` is off)".to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_and_print() {
        for (text, device) in [
            ("cpu", DeviceChoice::Cpu),
            ("CPU", DeviceChoice::Cpu),
            ("cuda", DeviceChoice::Cuda(0)),
            ("cuda:1", DeviceChoice::Cuda(1)),
            ("metal", DeviceChoice::Metal(0)),
            ("metal:2", DeviceChoice::Metal(2)),
        ] {
            assert_eq!(text.parse::<DeviceChoice>(), Ok(device), "{text}");
        }
        for bad in ["bogus", "cpu:0", "cuda:", "cuda:x", "", "tpu:1"] {
            assert!(bad.parse::<DeviceChoice>().is_err(), "{bad}");
        }
        assert_eq!(DeviceChoice::Cuda(3).to_string(), "cuda:3");
        assert_eq!("cuda:3".parse::<DeviceChoice>(), Ok(DeviceChoice::Cuda(3)));
    }

    #[test]
    fn cpu_always_opens() {
        assert!(DeviceChoice::default().open().is_ok_and(|d| d.is_cpu()));
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_get_it() {
        let err = DeviceChoice::Cuda(0).open().expect_err("no CUDA backend");
        let text = err.to_string();
        assert!(text.contains("`cuda`"), "{text}");
        assert!(text.contains("--features cuda"), "{text}");
        assert!(matches!(
            err,
            LoadError::DeviceUnavailable {
                device: DeviceChoice::Cuda(0),
                ..
            }
        ));
    }

    #[cfg(not(feature = "metal"))]
    #[test]
    fn metal_without_the_feature_says_how_to_get_it() {
        let err = DeviceChoice::Metal(0).open().expect_err("no Metal backend");
        assert!(err.to_string().contains("--features metal"), "{err}");
    }
}

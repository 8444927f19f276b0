//! Optional requantization at load time for the CPU (`LoadOptions::cpu_repack`).
//!
//! Candle's x86 kernels have SIMD dot products for Q4_0, Q8_0 and the k-quants,
//! but Q4_1, Q5_0 and Q5_1 fall back to scalar code: the default SmolLM2 file
//! (Q4_1, whose 576-wide rows rule out the k-quants) decodes at about half the
//! speed llama.cpp gets from the same file. Requantizing those tensors once at
//! load time moves them onto the SIMD kernels:
//!
//! - `q8_0`: 8-bit blocks of the same size; the 16 levels of a Q4_1 block fit
//!   with an error far below their own step, so the answers barely change.
//! - `q4_0`: 4-bit symmetric blocks; fastest, but a second 4-bit rounding, so
//!   the model's distribution moves (measured by `examples/bench.rs --compare`).
//!
//! Off by default: the file's own numbers are what runs unless asked otherwise.

use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use candle_core::Device;
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};

use crate::error::LoadError;

/// Which requantization the CPU loader applies to tensors without SIMD kernels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CpuRepack {
    /// Run the file's tensors as they are.
    #[default]
    Off,
    /// Requantize Q4_1, Q5_0 and Q5_1 tensors to Q8_0 (near lossless).
    Q8_0,
    /// Requantize Q4_1, Q5_0 and Q5_1 tensors to Q4_0 (fastest, lossy).
    Q4_0,
}

impl CpuRepack {
    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            CpuRepack::Off => "off",
            CpuRepack::Q8_0 => "q8_0",
            CpuRepack::Q4_0 => "q4_0",
        }
    }

    fn target(self) -> Option<GgmlDType> {
        match self {
            CpuRepack::Off => None,
            CpuRepack::Q8_0 => Some(GgmlDType::Q8_0),
            CpuRepack::Q4_0 => Some(GgmlDType::Q4_0),
        }
    }
}

impl std::fmt::Display for CpuRepack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CpuRepack {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "off" => Ok(CpuRepack::Off),
            "q8_0" => Ok(CpuRepack::Q8_0),
            "q4_0" => Ok(CpuRepack::Q4_0),
            _ => Err(format!(
                "unknown CPU repack {s:?}; expected off, q8_0 (near lossless) or q4_0 (fastest, lossy)"
            )),
        }
    }
}

/// The tensor types the repack rewrites: those without SIMD dot products in candle's CPU
/// kernels.
fn lacks_simd(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

/// Where a model's tensors are read from: the GGUF file, or its requantized copy in memory.
#[derive(Debug)]
pub enum GgufReader {
    /// The file itself.
    File(std::fs::File),
    /// A requantized GGUF image.
    Memory(Cursor<Vec<u8>>),
}

impl Read for GgufReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            GgufReader::File(f) => f.read(buf),
            GgufReader::Memory(m) => m.read(buf),
        }
    }
}

impl Seek for GgufReader {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match self {
            GgufReader::File(f) => f.seek(pos),
            GgufReader::Memory(m) => m.seek(pos),
        }
    }
}

/// The reader and content the loader builds the model from: the file as it is, or (on the
/// CPU, with a repack asked for and tensors it applies to) an in-memory GGUF image whose
/// slow-kernel tensors were requantized.
pub fn prepare(
    path: &Path,
    mut file: std::fs::File,
    content: gguf_file::Content,
    repack: CpuRepack,
    device: &Device,
) -> Result<(GgufReader, gguf_file::Content), LoadError> {
    let Some(target) = repack.target().filter(|_| device.is_cpu()) else {
        return Ok((GgufReader::File(file), content));
    };
    if !content
        .tensor_infos
        .values()
        .any(|t| lacks_simd(t.ggml_dtype))
    {
        return Ok((GgufReader::File(file), content));
    }
    let failed = |e: candle_core::Error| LoadError::Weights {
        path: path.to_path_buf(),
        reason: format!("requantizing for --cpu-repack {repack}: {e}"),
        fix: "load it without the CPU repack (`--cpu-repack off`)".to_string(),
    };
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let tensor = content
            .tensor(&mut file, name, &Device::Cpu)
            .map_err(failed)?;
        let tensor = if lacks_simd(tensor.dtype()) {
            QTensor::quantize(&tensor.dequantize(&Device::Cpu).map_err(failed)?, target)
                .map_err(failed)?
        } else {
            tensor
        };
        tensors.push((name.as_str(), tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut image = Cursor::new(Vec::new());
    gguf_file::write(&mut image, &metadata, &refs).map_err(failed)?;
    image.set_position(0);
    let content = gguf_file::Content::read(&mut image).map_err(failed)?;
    Ok((GgufReader::Memory(image), content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print() {
        for r in [CpuRepack::Off, CpuRepack::Q8_0, CpuRepack::Q4_0] {
            assert_eq!(r.as_str().parse::<CpuRepack>(), Ok(r));
        }
        assert_eq!("Q8_0".parse::<CpuRepack>(), Ok(CpuRepack::Q8_0));
        let err = "q4_1".parse::<CpuRepack>().expect_err("unknown");
        assert!(err.contains("q8_0"), "{err}");
        assert!(lacks_simd(GgmlDType::Q4_1) && !lacks_simd(GgmlDType::Q4_0));
    }
}

//! Rewrites a GGUF file with its Q4_1 tensors requantized to another type (experiment).
//!
//! ```text
//! cargo run -p palisade-inference --example requantize -- IN.gguf OUT.gguf [q8_0|q4_0]
//! ```

use candle_core::Device;
use candle_core::quantized::{GgmlDType, QTensor, gguf_file};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, rest @ ..] = args.as_slice() else {
        return Err("usage: requantize IN.gguf OUT.gguf [q8_0|q4_0]".into());
    };
    let target = match rest.first().map(String::as_str) {
        None | Some("q8_0") => GgmlDType::Q8_0,
        Some("q4_0") => GgmlDType::Q4_0,
        Some(other) => return Err(format!("unknown type {other}").into()),
    };
    let mut file = std::fs::File::open(input)?;
    let content = gguf_file::Content::read(&mut file)?;
    let mut tensors = Vec::new();
    for name in content.tensor_infos.keys() {
        let t = content.tensor(&mut file, name, &Device::Cpu)?;
        let t = if t.dtype() == GgmlDType::Q4_1 {
            QTensor::quantize(&t.dequantize(&Device::Cpu)?, target)?
        } else {
            t
        };
        tensors.push((name.clone(), t));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut out = std::fs::File::create(output)?;
    gguf_file::write(&mut out, &metadata, &tensor_refs)?;
    Ok(())
}

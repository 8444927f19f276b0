//! The real all-MiniLM-L6-v2 (asset cache, `palisade fetch`) through Candle
//! against an independent numpy implementation (`tools/minilm_reference.py`,
//! output committed as `testdata/hallucination/minilm_reference.json`), and
//! the grounding signals built on it.

use palisade::assets::{AssetCache, EmbedderChoice};
use palisade::hallucination::{context_similarity, sample_consistency};
use palisade::inference::SentenceEmbedder;
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    sentences: Vec<ReferenceSentence>,
}

#[derive(Deserialize)]
struct ReferenceSentence {
    text: String,
    embedding: Vec<f32>,
}

fn embedder() -> SentenceEmbedder {
    EmbedderChoice::Default
        .load(&AssetCache::from_env())
        .expect("the default embedder loads (run `palisade fetch`)")
        .expect("not off")
}

#[test]
fn candle_embeddings_match_the_numpy_reference() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/hallucination/minilm_reference.json"
    ))
    .expect("reference file");
    let reference: Reference = serde_json::from_str(&text).expect("reference JSON");
    let embedder = embedder();
    assert_eq!(embedder.dimension(), 384);
    let texts: Vec<&str> = reference
        .sentences
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    // One padded batch: padding must not change any sentence's embedding.
    let got = embedder.embed(&texts).expect("embed");
    for (sentence, vector) in reference.sentences.iter().zip(&got) {
        let worst = sentence
            .embedding
            .iter()
            .zip(vector)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 2e-5, "{:?}: off by {worst}", sentence.text);
    }
}

#[test]
fn a_supported_answer_scores_above_an_invented_one() {
    let embedder = embedder();
    let context = "Knowledge: The Oberoi Group is a hotel company with its head office in Delhi. \
                   It was founded in 1934.\nWhere is the Oberoi Group's head office?";
    let supported = context_similarity(
        &embedder,
        "The head office of the Oberoi Group is in New Delhi.",
        context,
    )
    .expect("embed")
    .expect("both texts have sentences");
    let invented = context_similarity(
        &embedder,
        "The Oberoi Group's head office is in Delhi. Its chairman collects vintage racing cars.",
        context,
    )
    .expect("embed")
    .expect("sentences");
    assert_eq!(invented.sentences, 2);
    assert!(supported.min > 0.7, "{supported:?}");
    assert!(
        invented.min + 0.3 < supported.min,
        "the invented sentence is the least supported: {invented:?} vs {supported:?}"
    );
    assert!(invented.mean > invented.min);
    assert!(
        context_similarity(&embedder, "Delhi.", "")
            .expect("embed")
            .is_none(),
        "no context, no similarity"
    );

    let samples = [
        "It is in Delhi.".to_owned(),
        "The head office is in New Delhi.".to_owned(),
    ];
    let agree = sample_consistency(&embedder, "Its head office is in Delhi.", &samples)
        .expect("embed")
        .expect("samples");
    let drift = sample_consistency(&embedder, "Bananas are rich in potassium.", &samples)
        .expect("embed")
        .expect("samples");
    assert!(agree > drift + 0.3, "agree {agree}, drift {drift}");
    assert_eq!(
        sample_consistency(&embedder, "Delhi.", &[]).expect("embed"),
        None
    );
}

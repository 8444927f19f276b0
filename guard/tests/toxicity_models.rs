//! The toxicity runtime against the Python originals (Keras and scikit-learn reference scores
//! written by tools/convert_toxicity.py), plus windowing, batching and load-time errors.
//!
//! Needs ONNX Runtime: `palisade fetch` (run by `make test`) or `ORT_DYLIB_PATH`.
#![cfg(feature = "onnx")]
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use palisade_guard::toxicity::keras_tokenizer::{KerasTokenizer, read_config};
use palisade_guard::toxicity::{
    JIGSAW_BILSTM, ModelSource, PROFANITY_SVM, RuntimeConfig, ToxicityError, ToxicityModel,
    load_model, load_uncached,
};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn jsonl(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join("testdata/toxicity").join(name)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn bilstm() -> Arc<dyn ToxicityModel> {
    load_model(JIGSAW_BILSTM, &RuntimeConfig::default())
        .unwrap_or_else(|e| panic!("cannot load the BiLSTM (run `palisade fetch`?): {e}"))
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn tokenizer_reproduces_keras_ids_and_spans() {
    let dir = repo().join("models/toxicity");
    let cfg = read_config(&std::fs::read(dir.join("jigsaw-bilstm.config.json")).unwrap()).unwrap();
    let vocab = KerasTokenizer::read_vocab_file(&dir.join("jigsaw-bilstm.vocab.json")).unwrap();
    let words: std::collections::HashMap<i64, String> =
        vocab.iter().map(|(w, &i)| (i, w.clone())).collect();
    let tok = KerasTokenizer::new(&cfg, vocab).unwrap();
    let cases = jsonl("keras_reference.jsonl");
    assert!(cases.len() > 100, "too few reference cases");
    for case in &cases {
        let text = case["text"].as_str().unwrap();
        let expected: Vec<i64> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let tokens = tok.tokenize(text);
        let ids: Vec<i64> = tokens.iter().map(|t| t.id).collect();
        assert_eq!(ids, expected, "ids differ for {text:?}");
        for t in &tokens {
            let span = text[t.start..t.end].to_lowercase();
            assert_eq!(
                span.replace('ς', "σ"),
                words[&t.id].replace('ς', "σ"),
                "span of {t:?} in {text:?}"
            );
        }
    }
}

#[test]
fn tokenizer_splits_like_python() {
    let dir = repo().join("models/toxicity");
    let cfg = read_config(&std::fs::read(dir.join("jigsaw-bilstm.config.json")).unwrap()).unwrap();
    let vocab = KerasTokenizer::read_vocab_file(&dir.join("jigsaw-bilstm.vocab.json")).unwrap();
    let id = |w: &str| vocab[w];
    let (you, are, dont) = (id("you"), id("are"), id("don't"));
    let tok = KerasTokenizer::new(&cfg, vocab.clone()).unwrap();
    let ids = |t: &str| tok.tokenize(t).iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(ids("YOU,are!!"), vec![you, are]);
    assert_eq!(ids("don't"), vec![dont], "the apostrophe is not a filter");
    assert_eq!(ids("you\rare"), Vec::<i64>::new(), "\\r does not split");
    assert_eq!(
        ids("you\u{a0}are"),
        Vec::<i64>::new(),
        "a no-break space does not split"
    );
    assert_eq!(ids("you\tare\n"), vec![you, are]);
}

#[test]
fn bilstm_matches_keras_on_reference_texts() {
    let model = bilstm();
    assert_eq!(model.labels().len(), 6);
    let cases = jsonl("keras_reference.jsonl");
    let texts: Vec<&str> = cases.iter().map(|c| c["text"].as_str().unwrap()).collect();
    let got = model.score_texts(&texts).unwrap();
    let mut worst = 0.0_f32;
    for (case, scores) in cases.iter().zip(&got) {
        let expected = floats(&case["scores"]);
        // Keras keeps the last 100 ids; so does our last window.
        let last = &scores.windows.last().unwrap().scores;
        for (a, b) in last.iter().zip(&expected) {
            worst = worst.max((a - b).abs());
        }
        if case["ids"].as_array().unwrap().len() <= 100 {
            assert_eq!(scores.windows.len(), 1);
        }
    }
    assert!(worst < 1e-4, "max abs difference {worst}");
}

#[test]
fn svm_matches_scikit_learn() {
    let model = load_model(PROFANITY_SVM, &RuntimeConfig::default()).unwrap();
    let cases = jsonl("svm_reference.jsonl");
    let mut compared = 0;
    for case in &cases {
        let text = case["text"].as_str().unwrap();
        if text.split_whitespace().count() > 64 {
            continue;
        }
        let got = model.score(text).unwrap().scores[0];
        let want = case["score"].as_f64().unwrap() as f32;
        assert!((got - want).abs() < 1e-4, "{text:?}: {got} vs {want}");
        compared += 1;
    }
    assert!(compared > 50, "only {compared} cases compared");
}

#[test]
fn long_text_is_scored_over_windows() {
    let model = bilstm();
    let filler = "the weather report said it would be sunny and warm all week long. ".repeat(30);
    let insult = "you are a stupid idiot and a moron.";
    let text = format!("{filler}{insult} {filler}");
    let scores = model.score(&text).unwrap();
    assert!(scores.windows.len() > 5, "{} windows", scores.windows.len());
    let toxic = model.label_index("toxic").unwrap();
    let alone = model.score(insult).unwrap().scores[toxic];
    assert!(alone > 0.9, "insult alone scores {alone}");
    assert!(
        scores.scores[toxic] > 0.8,
        "max over windows {}",
        scores.scores[toxic]
    );
    let hit = scores.first_window_over(toxic, 0.8).unwrap();
    assert!(hit.start <= filler.len() && filler.len() + insult.len() <= hit.end + 1);
    let benign = model.score(&filler).unwrap().scores[toxic];
    assert!(benign < 0.2, "benign filler scores {benign}");
}

#[test]
fn concurrent_requests_get_their_own_results() {
    let model = bilstm();
    let texts: Vec<String> = (0..24)
        .map(|i| {
            format!(
                "message number {i}: {}",
                if i % 3 == 0 {
                    "shut up you idiot"
                } else {
                    "thanks a lot"
                }
            )
        })
        .collect();
    let sequential: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| model.score(t).unwrap().scores)
        .collect();
    let handles: Vec<_> = texts
        .iter()
        .cloned()
        .map(|t| {
            let m = Arc::clone(&model);
            std::thread::spawn(move || m.score(&t).unwrap().scores)
        })
        .collect();
    for (h, want) in handles.into_iter().zip(&sequential) {
        let got = h.join().unwrap();
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}

fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

fn load_from(dir: &Path) -> Result<Arc<dyn ToxicityModel>, ToxicityError> {
    load_uncached(
        JIGSAW_BILSTM,
        &ModelSource::Dir(dir.to_path_buf()),
        &RuntimeConfig::default(),
    )
}

#[test]
fn model_errors_name_the_problem() {
    bilstm(); // the library must load for these errors to be about the model
    let models = repo().join("models/toxicity");
    let vocab = std::fs::read(models.join("jigsaw-bilstm.vocab.json")).unwrap();
    let config = std::fs::read(models.join("jigsaw-bilstm.config.json")).unwrap();
    let companions: [(&str, &[u8]); 2] = [
        ("jigsaw-bilstm.vocab.json", &vocab),
        ("jigsaw-bilstm.config.json", &config),
    ];

    let missing = dir_with(&companions);
    let err = load_from(missing.path()).unwrap_err();
    assert!(
        matches!(
            err,
            ToxicityError::ModelFile {
                what: "ONNX graph",
                ..
            }
        ),
        "{err}"
    );

    let corrupt = dir_with(&[
        companions[0],
        companions[1],
        ("jigsaw-bilstm.onnx", b"not a model"),
    ]);
    let err = load_from(corrupt.path()).unwrap_err();
    assert!(matches!(err, ToxicityError::ModelLoad { .. }), "{err}");
    assert!(err.to_string().contains("corrupt"), "{err}");

    let wrong = std::fs::read(repo().join("testdata/toxicity/wrong-io.onnx")).unwrap();
    let wrong_io = dir_with(&[companions[0], companions[1], ("jigsaw-bilstm.onnx", &wrong)]);
    let err = load_from(wrong_io.path()).unwrap_err();
    assert!(matches!(err, ToxicityError::Interface { .. }), "{err}");
    assert!(err.to_string().contains("input_ids"), "{err}");

    let no_vocab = dir_with(&[companions[1]]);
    let err = load_from(no_vocab.path()).unwrap_err();
    assert!(
        matches!(
            err,
            ToxicityError::ModelFile {
                what: "vocabulary",
                ..
            }
        ),
        "{err}"
    );

    let err = load_model("no-such-model", &RuntimeConfig::default()).unwrap_err();
    assert!(err.to_string().contains("jigsaw-bilstm"), "{err}");
}

#[test]
fn evaluation_set_scores_stay_high() {
    use palisade_guard::toxicity::default_thresholds;
    use palisade_guard::toxicity::eval::{evaluate, read_jsonl};

    let samples = read_jsonl(&repo().join("testdata/toxicity/eval.jsonl")).unwrap();
    assert!(samples.len() > 1000);
    let model = bilstm();
    let report = evaluate(&model, &samples, &default_thresholds(JIGSAW_BILSTM), 64).unwrap();
    assert_eq!(
        report.positives + report.at_thresholds.fp + report.at_thresholds.tn,
        samples.len()
    );
    let auc = report.auc_any_label.unwrap();
    // Measured 0.854 (docs/toxicity.md); a broken tokenizer or graph falls to ~0.5.
    assert!(auc > 0.83, "ROC-AUC fell to {auc}");
    assert!(
        report.at_thresholds.precision() > 0.9,
        "{:?}",
        report.at_thresholds
    );
    assert!(
        report.at_thresholds.recall() > 0.2,
        "{:?}",
        report.at_thresholds
    );
}

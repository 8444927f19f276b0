//! The hallucination signals and `type: hallucination` rules in a real chat on the default
//! model: risk and counts reach telemetry, a warn rule reports, a block rule holds the answer
//! back and releases nothing; with the sentence embedder and the sampled mode, the embedding
//! signals are measured and exported as numbers.
//!
//! Needs the default model and all-MiniLM-L6-v2 in the asset cache (`make test` fetches it first).

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use palisade::assets::{AssetCache, EmbedderChoice};
use palisade::guard::Policy;
use palisade::inference::{ChatMessage, GenerationParams, LoadOptions};
use palisade::telemetry::{RequestRecord, TelemetrySink};
use palisade::{
    ChatEvent, ChatRequest, Finish, HallucinationChecks, HallucinationChecksError, Palisade,
};

#[derive(Default)]
struct Capture(Mutex<Vec<RequestRecord>>);

impl TelemetrySink for Capture {
    fn record_request(&self, record: &RequestRecord) {
        self.0.lock().expect("lock").push(record.clone());
    }
}

fn palisade(action: &str, threshold: f32, sink: Arc<Capture>) -> Palisade {
    let yaml = format!(
        "version: '1'\nname: h\noutput:\n  - id: risky\n    type: hallucination\n    action: {action}\n    threshold: {threshold}\n    message: Not supported by the sources.\n"
    );
    let policy = Policy::from_yaml_str(&yaml, "h.yaml").expect("valid policy");
    let model = palisade::assets::AssetCache::from_env()
        .require(&palisade::assets::SMOLLM2_135M_INSTRUCT)
        .expect("the default model is cached: run `cargo run -- fetch`");
    Palisade::load(&model, policy, &LoadOptions::default(), sink).expect("loads")
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::system(
                "Knowledge: The Oberoi Group is a hotel company with its head office in Delhi.",
            ),
            ChatMessage::user("In which city is the Oberoi Group's head office?"),
        ],
        params: GenerationParams::greedy(24),
    }
}

fn run(p: &Palisade) -> (Vec<ChatEvent>, palisade::ChatSummary) {
    let mut events = Vec::new();
    let summary = p
        .chat_with(request(), &mut |e| {
            events.push(e);
            ControlFlow::Continue(())
        })
        .expect("chat runs");
    (events, summary)
}

#[test]
fn warn_reports_the_risk_and_telemetry_gets_numbers_only() {
    let sink = Arc::new(Capture::default());
    // A threshold every answer reaches: the rule must fire, and the text is still released.
    let p = palisade("warn", 1e-6, Arc::clone(&sink));
    let (events, summary) = run(&p);
    let risk = summary.hallucination_risk.expect("scored");
    assert!((0.0..=1.0).contains(&risk), "{risk}");
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::Delta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert!(!text.is_empty());
    let kinds: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::Guard(g) => Some(g.findings.iter().map(|f| f.kind.to_string())),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(kinds, ["hallucination.risk"]);

    let records = sink.0.lock().expect("lock");
    let record = records.first().expect("one record");
    assert_eq!(record.hallucination_risk, Some(risk));
    assert!(record.min_logprob.is_some() && record.mean_logprob.is_some());
    assert!(record.longest_low_confidence_run.is_some());
    assert!(
        record.ungrounded_entities.is_some(),
        "the request has a context"
    );
    assert_eq!(record.rule_hits.len(), 1);
    assert_eq!(record.rule_hits[0].kind, "hallucination.risk");
}

#[test]
fn block_holds_the_answer_back_and_releases_nothing() {
    let sink = Arc::new(Capture::default());
    let p = palisade("block", 1e-6, Arc::clone(&sink));
    let (events, summary) = run(&p);
    assert!(
        events.iter().all(|e| !matches!(e, ChatEvent::Delta(_))),
        "{events:?}"
    );
    match &summary.finish {
        Finish::BlockedOutput { rule_id, message } => {
            assert_eq!(rule_id, "risky");
            assert_eq!(message, "Not supported by the sources.");
        }
        other => panic!("expected a block, got {other:?}"),
    }

    // Above any risk: nothing fires and the whole answer is released at the end.
    let p = palisade("block", 1.0, sink);
    let (events, summary) = run(&p);
    assert!(
        matches!(summary.finish, Finish::Stop | Finish::Length),
        "{summary}"
    );
    let deltas = events
        .iter()
        .filter(|e| matches!(e, ChatEvent::Delta(_)))
        .count();
    assert_eq!(deltas, 1, "held text comes out in one piece: {events:?}");
}

#[test]
fn the_embedder_and_the_sampled_mode_add_their_signals() {
    let sink = Arc::new(Capture::default());
    let cache = AssetCache::from_env();
    let checks = HallucinationChecks::load(&EmbedderChoice::Default, 2, &cache).expect("loads");
    let p = palisade("warn", 1e-6, Arc::clone(&sink)).with_hallucination_checks(checks);
    let (events, summary) = run(&p);
    assert!(
        matches!(summary.finish, Finish::Stop | Finish::Length),
        "{summary}"
    );
    let answer: String = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::Delta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    let records = sink.0.lock().expect("lock");
    let record = records.first().expect("one record");
    let similarity = record
        .context_similarity
        .expect("measured: the request has a context");
    let consistency = record.sample_consistency.expect("measured: two samples");
    for v in [similarity, consistency] {
        assert!((-1.0..=1.0).contains(&v), "{v}");
    }
    // The answer names the city of the knowledge: it is supported.
    assert!(answer.contains("Delhi"), "{answer}");
    assert!(similarity > 0.3, "{similarity} for {answer:?}");
    // Same request, same seeds: the same figures (the samples are seeded).
    drop(records);
    let (_, again) = run(&p);
    assert_eq!(again.hallucination_risk, summary.hallucination_risk);
    let records = sink.0.lock().expect("lock");
    assert_eq!(records[1].sample_consistency, Some(consistency));

    // Without the embedder the signals stay unmeasured, and the sampled mode is refused.
    let plain = palisade("warn", 1e-6, Arc::new(Capture::default()));
    assert!(plain.hallucination_checks().embedder.is_none());
    let err = HallucinationChecks::load(&EmbedderChoice::Off, 3, &cache).expect_err("refused");
    assert!(matches!(
        err,
        HallucinationChecksError::SamplesWithoutEmbedder { samples: 3 }
    ));
    assert!(err.to_string().contains("--embedder default"), "{err}");
    let err =
        HallucinationChecks::load(&EmbedderChoice::Default, 17, &cache).expect_err("too many");
    assert!(err.to_string().contains("more than 16"), "{err}");
    let err = HallucinationChecks::load(
        &EmbedderChoice::Folder("/nonexistent/minilm".into()),
        0,
        &cache,
    )
    .expect_err("missing folder");
    assert!(
        err.to_string().contains("/nonexistent/minilm/config.json"),
        "{err}"
    );
}

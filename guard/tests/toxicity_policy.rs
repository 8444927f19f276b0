//! `type: toxicity` rules end to end: policy options, load-time errors, per-label thresholds,
//! fail-closed / fail-open, the guard's output stream, and `ToxicityStream` hold / release.
//!
//! Needs ONNX Runtime: `palisade fetch` (run by `make test`) or `ORT_DYLIB_PATH`.
#![cfg(feature = "onnx")]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use palisade_guard::detector::{Detector, DetectorFactory};
use palisade_guard::policy::StreamMode;
use palisade_guard::toxicity::detector::ToxicityDetector;
use palisade_guard::toxicity::metrics::failure_counts;
use palisade_guard::toxicity::stream::{StreamConfig, ToxicityStream};
use palisade_guard::toxicity::{
    JIGSAW_BILSTM, RuntimeConfig, TextScores, ToxicityError, ToxicityFactory, ToxicityModel,
    load_model,
};
use palisade_guard::{Direction, Guard, Policy, Rule, Verdict};

const INSULT: &str = "You are a stupid idiot and a moron.";
const KIND: &str = "You have been very helpful, thank you.";

fn policy(rule: &str) -> Policy {
    let out = rule.replacen("{id: ", "{id: out-", 1);
    let yaml = format!("version: '1'\nname: t\ninput:\n  - {rule}\noutput:\n  - {out}\n");
    Policy::from_yaml_str(&yaml, "inline").unwrap()
}

fn guard(rule: &str) -> Result<Guard, String> {
    Guard::builder(policy(rule))
        .register("toxicity", Arc::new(ToxicityFactory::default()))
        .build()
        .map_err(|e| e.to_string())
}

#[test]
fn per_label_thresholds_block_toxic_text_only() {
    let g = guard("{id: tox, type: toxicity, action: block, model: jigsaw-bilstm, labels: {toxic: 0.8, threat: 0.5}}").unwrap();
    let d = g.check(Direction::Input, &format!("Hello. {INSULT} Bye."));
    assert_eq!(d.verdict, Verdict::Block);
    assert_eq!(&*d.findings[0].kind, "toxicity.toxic");
    assert_eq!(d.findings[0].start, "Hello. ".len());
    assert!(d.findings[0].score >= 0.8);
    assert_eq!(g.check(Direction::Input, KIND).verdict, Verdict::Allow);
    // A label the text barely has, at a high bar, does not fire.
    let strict = guard("{id: tox, type: toxicity, action: block, labels: {threat: 0.99}}").unwrap();
    assert_eq!(
        strict.check(Direction::Input, INSULT).verdict,
        Verdict::Allow
    );
}

#[test]
fn svm_model_and_label_list() {
    let g = guard("{id: prof, type: toxicity, action: warn, model: profanity-svm, labels: [profanity], threshold: 0.5}").unwrap();
    let d = g.check(Direction::Input, "what the fuck is this shit");
    assert_eq!(d.verdict, Verdict::Warn);
    assert_eq!(&*d.findings[0].kind, "toxicity.profanity");
    assert_eq!(g.check(Direction::Input, KIND).verdict, Verdict::Allow);
}

#[test]
fn bad_options_fail_at_policy_load() {
    let err = guard("{id: t, type: toxicity, action: block, labels: {rudeness: 0.5}}").unwrap_err();
    assert!(
        err.contains("no label `rudeness`") && err.contains("toxic"),
        "{err}"
    );
    let err = guard("{id: t, type: toxicity, action: block, model: bert-huge}").unwrap_err();
    assert!(err.contains("unknown toxicity model `bert-huge`"), "{err}");
    let yaml = "version: '1'\nname: t\ninput:\n  - {id: t, type: toxicity, action: block, labels: {toxic: 1.5}}\n";
    let err = Policy::from_yaml_str(yaml, "inline")
        .unwrap_err()
        .to_string();
    assert!(err.contains("between 0 and 1"), "{err}");
    let yaml = "version: '1'\nname: t\ninput:\n  - {id: t, type: toxicity, action: block, threshold: 0.5, labels: {toxic: 0.5}}\n";
    let err = Policy::from_yaml_str(yaml, "inline")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not both"), "{err}");
    let yaml = "version: '1'\nname: t\ninput:\n  - {id: t, type: toxicity, action: block, stream: later}\n";
    assert!(Policy::from_yaml_str(yaml, "inline").is_err());
}

/// A model that always fails, to exercise `on_error`.
#[derive(Debug)]
struct Broken(Vec<Arc<str>>);

impl ToxicityModel for Broken {
    fn name(&self) -> &str {
        "broken"
    }
    fn labels(&self) -> &[Arc<str>] {
        &self.0
    }
    fn window_tokens(&self) -> usize {
        100
    }
    fn score_texts(&self, _: &[&str]) -> Result<Vec<TextScores>, ToxicityError> {
        Err(ToxicityError::Run {
            model: "broken".into(),
            reason: "simulated failure".into(),
        })
    }
}

struct BrokenFactory;

impl DetectorFactory for BrokenFactory {
    fn build(&self, rule: &Rule) -> Result<Vec<Box<dyn Detector>>, String> {
        let model = Arc::new(Broken(vec![Arc::from("toxic")]));
        Ok(vec![Box::new(
            ToxicityDetector::new(rule, model).map_err(|e| e.to_string())?,
        )])
    }
}

fn broken_count(rule: &str, open: bool) -> u64 {
    failure_counts()
        .into_iter()
        .filter(|((r, m, k, o), _)| &**r == rule && m == "broken" && *k == "run" && *o == open)
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn run_time_failures_fail_closed_or_open_and_are_counted() {
    for (on_error, verdict, open) in [
        ("block", Verdict::Block, false),
        ("allow", Verdict::Allow, true),
    ] {
        let id = format!("tox-{on_error}");
        let rule = format!(
            "{{id: {id}, type: toxicity, action: block, labels: {{toxic: 0.5}}, on_error: {on_error}}}"
        );
        let g = Guard::builder(policy(&rule))
            .register("toxicity", Arc::new(BrokenFactory))
            .build()
            .unwrap();
        let before = broken_count(&id, open);
        palisade_guard::toxicity::metrics::take_thread_failures();
        let d = g.check(Direction::Input, KIND);
        assert_eq!(palisade_guard::toxicity::metrics::take_thread_failures(), 1);
        assert_eq!(d.verdict, verdict, "on_error: {on_error}");
        if open {
            assert!(d.findings.is_empty());
        } else {
            assert_eq!(&*d.findings[0].kind, "toxicity.error");
        }
        assert!(
            broken_count(&id, open) > before,
            "failure not counted for {on_error}"
        );
        // A measured check attributes the failure to the rule's detector.
        let measured = g.check_measured(Direction::Input, KIND, None);
        assert_eq!(measured.costs.len(), 1);
        assert_eq!(&*measured.costs[0].rule_id, id.as_str());
        assert_eq!(&*measured.costs[0].detector, "toxicity");
        assert_eq!(measured.costs[0].failures, 1);
        assert_eq!(measured.verdict, verdict);
    }
}

#[test]
fn release_mode_streams_at_once_and_cuts_on_a_late_verdict() {
    let g =
        guard("{id: tox, type: toxicity, action: block, labels: {toxic: 0.8}, stream: release}")
            .unwrap();
    let mut s = g.output_stream(None).measured();
    // Unlike `hold`, an unfinished sentence is released at once (but for the last character,
    // which a combining mark could still change).
    let first = s.push("Sure thing, here");
    assert_eq!(first.text, "Sure thing, her");
    let mut out = first.text;
    let mut block = None;
    for piece in [
        " it is. ",
        "You are a stu",
        "pid idiot and a moron. ",
        "More text.",
    ] {
        let chunk = s.push(piece);
        out += &chunk.text;
        if chunk.block.is_some() {
            assert!(
                chunk.text.is_empty(),
                "the chunk with the verdict is withheld"
            );
            assert_eq!(&*chunk.findings[0].kind, "toxicity.toxic");
            block = chunk.block;
        }
    }
    let block = block.expect("the insult cut the stream");
    assert_eq!(block.rule_id, "out-tox");
    assert!(s.is_blocked());
    assert_eq!(s.finish(), Default::default(), "nothing after the cut");
    assert!(!out.contains("More text"), "released {out:?}");
    let costs = s.costs();
    assert_eq!(costs.len(), 1, "the late check is measured: {costs:?}");
    assert_eq!(&*costs[0].detector, "toxicity");
    assert!(costs[0].elapsed > std::time::Duration::ZERO);
    // Whole-text checks of the same rule still judge every sentence.
    let d = g.check(Direction::Output, &format!("Fine. {INSULT}"));
    assert_eq!(d.verdict, Verdict::Block);
    // Clean text streams through and passes the final check.
    let mut clean = g.output_stream(None);
    let mut text = clean.push(KIND).text;
    let end = clean.finish();
    text += &end.text;
    assert!(end.block.is_none());
    assert_eq!(text, KIND);
}

#[test]
fn release_mode_cannot_redact() {
    let err = guard("{id: tox, type: toxicity, action: redact, stream: release}").unwrap_err();
    assert!(err.contains("stream: release"), "{err}");
    assert!(err.contains("out-tox"), "{err}");
}

#[test]
fn guard_output_stream_holds_the_pending_sentence() {
    let g = guard("{id: tox, type: toxicity, action: block, labels: {toxic: 0.8}}").unwrap();
    let mut s = g.output_stream(None);
    let mut out = String::new();
    let mut blocked = false;
    for piece in [
        "Sure thing. ",
        "You are a stu",
        "pid idiot and a moron. ",
        "More text.",
    ] {
        let chunk = s.push(piece);
        out += &chunk.text;
        blocked |= chunk.block.is_some();
    }
    let end = s.finish();
    out += &end.text;
    blocked |= end.block.is_some();
    assert!(blocked, "the insult was not blocked");
    assert!(
        !out.contains("idiot") && !out.contains("stu"),
        "released {out:?}"
    );
    assert!(out.starts_with("Sure thing."));
}

fn stream(mode: StreamMode) -> ToxicityStream {
    let model = load_model(JIGSAW_BILSTM, &RuntimeConfig::default()).unwrap();
    let toxic = model.label_index("toxic").unwrap();
    ToxicityStream::new(
        model,
        StreamConfig {
            mode,
            every_words: 0,
            thresholds: vec![(toxic, 0.8)],
        },
    )
}

#[test]
fn hold_withholds_unscored_text_and_release_cuts_late() {
    let pieces = [
        "Sure thing. ",
        "You are a stupid ",
        "idiot and a moron",
        ". Anything else?",
    ];
    let mut hold = stream(StreamMode::Hold);
    let mut released = String::new();
    let mut block = None;
    for p in pieces {
        let step = hold.push(p).unwrap();
        released += &step.release;
        block = block.or(step.block);
    }
    let b = block.expect("hold: blocked");
    assert_eq!(released, "Sure thing.");
    assert!(!b.late && !b.final_pass);

    let mut release = stream(StreamMode::Release);
    let mut released = String::new();
    let mut block = None;
    for p in pieces {
        let step = release.push(p).unwrap();
        released += &step.release;
        block = block.or(step.block);
    }
    let b = block.expect("release: blocked");
    assert!(
        released.contains("stupid idiot"),
        "release mode sends at once: {released:?}"
    );
    assert!(b.late, "the verdict came after the text was sent");
    assert!(
        release.push("more").unwrap().release.is_empty(),
        "a cut stream sends nothing more"
    );
}

#[test]
fn final_pass_catches_text_without_checkpoints() {
    let mut s = stream(StreamMode::Hold);
    let mut released = String::new();
    for p in ["you are a stupid", " idiot and a moron"] {
        released += &s.push(p).unwrap().release;
    }
    assert!(released.is_empty());
    let end = s.finish().unwrap();
    let b = end.block.expect("final pass blocks");
    assert!(b.final_pass);
    let mut ok = stream(StreamMode::Hold);
    let mut all = ok.push("Thanks for the help").unwrap().release;
    all += &ok.finish().unwrap().release;
    assert_eq!(all, "Thanks for the help");
}

#[test]
fn a_stream_takes_its_settings_from_the_rule() {
    let yaml = "version: '1'\nname: t\noutput:\n  - {id: tox, type: toxicity, action: block, labels: {toxic: 0.8}, stream: release, every_words: 4}\n";
    let policy = Policy::from_yaml_str(yaml, "inline").unwrap();
    let rule = &policy.rules(Direction::Output)[0];
    let mut s = ToxicityStream::for_rule(rule, &RuntimeConfig::default()).unwrap();
    // Released at once; the 4-word checkpoint (no sentence end) then catches the insult late.
    let first = s.push("you stupid").unwrap();
    assert_eq!(
        (first.release.as_str(), first.block.is_none()),
        ("you stupid", true)
    );
    let b = s
        .push(" idiot moron and")
        .unwrap()
        .block
        .expect("blocked at a word-count checkpoint");
    assert!(b.late && !b.final_pass);
    assert!(s.push(" more").unwrap().release.is_empty());
    assert!(s.released() > 0);
}

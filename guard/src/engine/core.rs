//! The scanning state machine shared by whole-text checks and output streams.
//!
//! Text arrives in pieces ([`Core::feed`]); [`Core::scan`] runs every detector from its cursor over
//! the complete part of what arrived, commits the candidates whose outcome can no longer change,
//! and releases text up to the earliest position where a candidate may still be pending. A
//! whole-text check is the same machine fed once and scanned with `at_end`, so a stream releases
//! exactly what a whole-text check returns, whatever the chunking.

use std::sync::Arc;

use regex_automata::hybrid::dfa::Cache;

use super::Inner;
use super::length::LengthCounter;
use crate::char_facts::is_starter;
use crate::detector::restore::RestoreDetector;
use crate::detector::{CONTEXT_CHARS, Candidate, Detector, LateCheck};
use crate::normalize::{View, ViewKind, complete_prefix, is_invisible};
use crate::policy::Rule;
use crate::tally::Tally;
use crate::types::{Action, BlockInfo, DetectorCost, Direction, Finding};
use crate::vault::RedactionVault;

/// A rule judged after release, handed from the core to its output stream.
#[derive(Debug)]
pub(crate) struct LateRule {
    pub(crate) rule: Rule,
    /// The detector's kinds, indexed by [`Candidate::kind`].
    pub(crate) kinds: Vec<Arc<str>>,
    pub(crate) check: Box<dyn LateCheck>,
}

/// What one scan released.
#[derive(Debug, Default)]
pub(crate) struct Step {
    pub(crate) text: String,
    pub(crate) findings: Vec<Finding>,
    pub(crate) block: Option<BlockInfo>,
}

#[derive(Default)]
struct Slot {
    /// Absolute original offset where the next search starts.
    cursor: usize,
    /// Absolute original offset before which no candidate can still be in progress.
    live_from: usize,
    /// The liveness automaton's cache, made by the first stream step that needs it (boxed: a
    /// cache is large, and a whole-text check never needs one).
    cache: Option<Box<Cache>>,
    /// Skipped: the detector judges this stream after release (see [`Core::hand_over_late`]).
    late: bool,
}

#[derive(Debug, Clone)]
enum Replace {
    Redact { label: Arc<str>, restore: bool },
    Restore { original: String },
}

#[derive(Debug, Clone)]
struct Span {
    start: usize,
    end: usize,
    rule: usize,
    replace: Replace,
}

#[derive(Debug, Clone, Copy)]
struct BlockAt {
    start: usize,
    rule: usize,
}

/// Sort key of findings: start, rule order, end, kind.
fn finding_order(a: &(usize, Finding), b: &(usize, Finding)) -> std::cmp::Ordering {
    (a.1.start, a.0, a.1.end, &a.1.kind).cmp(&(b.1.start, b.0, b.1.end, &b.1.kind))
}

pub(crate) struct Core {
    inner: Arc<Inner>,
    direction: Direction,
    /// Original text from absolute offset `base`.
    buf: String,
    base: usize,
    total: usize,
    released: usize,
    scanned_upto: usize,
    slots: Vec<Slot>,
    restore: Option<(RestoreDetector, Slot)>,
    lengths: Vec<LengthCounter>,
    /// Committed findings not yet emitted, with their rule index.
    findings: Vec<(usize, Finding)>,
    spans: Vec<Span>,
    block: Option<BlockAt>,
    vault: RedactionVault,
    blocked: bool,
    /// Time and failures per scanner, when measuring.
    costs: Option<Vec<Tally>>,
}

impl Core {
    pub(crate) fn new(
        inner: Arc<Inner>,
        direction: Direction,
        vault: Option<&RedactionVault>,
    ) -> Core {
        let side = inner.side(direction);
        let slots = side.scanners.iter().map(|_| Slot::default()).collect();
        let lengths = side
            .lengths
            .iter()
            .map(|l| LengthCounter::new(l.max, l.unit))
            .collect();
        let vault = vault.cloned().unwrap_or_default();
        let restore = if direction == Direction::Output {
            RestoreDetector::from_vault(&vault).map(|d| (d, Slot::default()))
        } else {
            None
        };
        Core {
            inner,
            direction,
            buf: String::new(),
            base: 0,
            total: 0,
            released: 0,
            scanned_upto: 0,
            slots,
            restore,
            lengths,
            findings: Vec::new(),
            spans: Vec::new(),
            block: None,
            vault,
            blocked: false,
            costs: None,
        }
    }

    /// Takes every scanner that judges streamed text after release out of this core, returning
    /// each one's rule and late check: the core no longer waits for them.
    pub(crate) fn hand_over_late(&mut self) -> Vec<LateRule> {
        let inner = self.inner.clone();
        let side = inner.side(self.direction);
        let mut late = Vec::new();
        for (scanner, slot) in side.scanners.iter().zip(&mut self.slots) {
            let rule = side.rules.get(scanner.rule);
            if let (Some(check), Some(rule)) = (scanner.detector.late_check(), rule) {
                slot.late = true;
                late.push(LateRule {
                    rule: rule.clone(),
                    kinds: scanner.detector.kinds().to_vec(),
                    check,
                });
            }
        }
        late
    }

    /// Measures the time and run-time failures of every detector from now on.
    pub(crate) fn measure(&mut self) {
        let n = self.slots.len();
        self.costs.get_or_insert_with(|| vec![Tally::default(); n]);
    }

    /// What each detector cost so far (empty unless measuring).
    pub(crate) fn costs(&self) -> Vec<DetectorCost> {
        let Some(costs) = &self.costs else {
            return Vec::new();
        };
        let side = self.inner.side(self.direction);
        side.scanners
            .iter()
            .zip(costs)
            .zip(&self.slots)
            .filter(|(_, slot)| !slot.late)
            .filter_map(|((scanner, tally), _)| Some(tally.report(side.rules.get(scanner.rule)?)))
            .collect()
    }

    pub(crate) fn into_vault(self) -> RedactionVault {
        self.vault
    }

    pub(crate) fn vault(&self) -> &RedactionVault {
        &self.vault
    }

    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// Bytes received but not yet released.
    pub(crate) fn held_bytes(&self) -> usize {
        if self.blocked {
            0
        } else {
            self.total - self.released
        }
    }

    pub(crate) fn feed(&mut self, text: &str) {
        if self.blocked {
            return;
        }
        self.buf.push_str(text);
        self.total += text.len();
    }

    /// What [`Core::feed`] of `text` then [`Core::scan`] to the end return on a fresh core,
    /// without copying the text into the core's buffer first.
    pub(crate) fn scan_whole(&mut self, text: &str) -> Step {
        debug_assert!(self.total == 0 && self.buf.is_empty(), "a fresh core");
        self.total = text.len();
        self.scanned_upto = text.len();
        self.scan_buffer(text, text.len(), true)
    }

    pub(crate) fn scan(&mut self, at_end: bool) -> Step {
        if self.blocked {
            return Step::default();
        }
        let complete = if at_end {
            self.total
        } else {
            self.base + complete_prefix(&self.buf)
        };
        if complete == self.scanned_upto && !at_end {
            return Step::default();
        }
        self.scanned_upto = complete;
        let buf = std::mem::take(&mut self.buf);
        let step = self.scan_buffer(&buf, complete, at_end);
        self.buf = buf;
        self.trim();
        step
    }

    /// Runs every detector and length rule over `buf` (the text from `self.base`) up to the
    /// absolute offset `complete`, and releases what can be released.
    fn scan_buffer(&mut self, buf: &str, complete: usize, at_end: bool) -> Step {
        let window = &buf[..complete - self.base];
        self.run_detectors(window, complete, at_end);
        self.run_lengths(window);
        self.release(buf, complete, at_end)
    }

    fn run_detectors(&mut self, window: &str, complete: usize, at_end: bool) {
        let inner = self.inner.clone();
        let side = inner.side(self.direction);
        let mut views: [Option<View<'_>>; 3] = [None, None, None];
        let base = self.base;
        for (i, scanner) in side.scanners.iter().enumerate() {
            let slot = &mut self.slots[i];
            if slot.late {
                slot.cursor = complete;
                slot.live_from = complete;
                continue;
            }
            let det = scanner.detector.as_ref();
            let view = view_of(&mut views, window, det.view());
            let mut commits = Vec::new();
            let slot = &mut self.slots[i];
            let tally = self.costs.as_mut().and_then(|c| c.get_mut(i));
            Tally::measure(tally, || {
                scan_one(det, view, base, complete, at_end, slot, &mut commits);
            });
            for (c, s, e) in commits {
                self.commit(scanner.rule, det, &scanner.labels, c, s, e);
            }
        }
        if let Some((det, mut slot)) = self.restore.take() {
            let view = view_of(&mut views, window, det.view());
            let mut commits = Vec::new();
            scan_one(&det, view, base, complete, at_end, &mut slot, &mut commits);
            for (c, s, e) in commits {
                if c.score > 0.0
                    && let Some(original) = window
                        .get(s - base..e - base)
                        .and_then(|p| self.vault.restorable(p))
                {
                    self.spans.push(Span {
                        start: s,
                        end: e,
                        rule: usize::MAX,
                        replace: Replace::Restore {
                            original: original.to_owned(),
                        },
                    });
                }
            }
            self.restore = Some((det, slot));
        }
    }

    fn commit(
        &mut self,
        rule_index: usize,
        det: &dyn Detector,
        labels: &[Arc<str>],
        c: Candidate,
        start: usize,
        end: usize,
    ) {
        let inner = self.inner.clone();
        let side = inner.side(self.direction);
        let Some(rule) = side.rules.get(rule_index) else {
            return;
        };
        if c.score <= 0.0 || c.score < rule.threshold || end <= start {
            return;
        }
        let kind = det
            .kinds()
            .get(c.kind)
            .cloned()
            .unwrap_or_else(|| Arc::from(rule.detector.type_name()));
        self.record(rule_index, rule, kind, start, end, c.score);
        if rule.action == Action::Redact {
            let label = labels
                .get(c.kind)
                .cloned()
                .unwrap_or_else(|| Arc::from("REDACTED"));
            self.spans.push(Span {
                start,
                end,
                rule: rule_index,
                replace: Replace::Redact {
                    label,
                    restore: rule.restore,
                },
            });
        }
    }

    /// Records a finding of `rule` (the rule at `rule_index`).
    fn record(
        &mut self,
        rule_index: usize,
        rule: &Rule,
        kind: Arc<str>,
        start: usize,
        end: usize,
        score: f32,
    ) {
        if rule.action == Action::Block {
            let earlier = self
                .block
                .is_none_or(|b| (start, rule_index) < (b.start, b.rule));
            if earlier {
                self.block = Some(BlockAt {
                    start,
                    rule: rule_index,
                });
            }
        }
        self.findings.push((
            rule_index,
            Finding {
                rule_id: rule.id.clone(),
                kind,
                action: rule.action,
                severity: rule.severity,
                start,
                end,
                score,
            },
        ));
    }

    fn run_lengths(&mut self, window: &str) {
        let inner = self.inner.clone();
        let side = inner.side(self.direction);
        for (i, rule) in side.lengths.iter().enumerate() {
            let counter = &mut self.lengths[i];
            if counter.exceeded.is_some() {
                continue;
            }
            let from = counter.counted - self.base;
            counter.feed(&window[from..]);
            if let Some((s, e)) = counter.exceeded
                && let Some(r) = side.rules.get(rule.rule)
            {
                let kind = side.length_kind.clone();
                self.record(rule.rule, r, kind, s, e, 1.0);
            }
        }
    }

    fn release(&mut self, buf: &str, complete: usize, at_end: bool) -> Step {
        let mut bound = if at_end { self.total } else { complete };
        if !at_end {
            for slot in self.slots.iter().chain(self.restore.as_ref().map(|r| &r.1)) {
                bound = bound.min(slot.cursor);
            }
        }
        let groups = merge(std::mem::take(&mut self.spans));
        if let Some(b) = self.block.filter(|b| at_end || b.start < bound) {
            let mut cut = b.start;
            for g in &groups {
                if g.start < cut && g.end > cut {
                    cut = g.start;
                }
            }
            let text = self.render(buf, cut, &groups);
            let findings = self.take_findings(|f| f.start <= b.start);
            self.blocked = true;
            self.released = cut;
            let side = self.inner.side(self.direction);
            let block = side.rules.get(b.rule).map(|r| BlockInfo {
                rule_id: r.id.to_string(),
                message: r.block_message(),
            });
            self.findings.clear();
            return Step {
                text,
                findings,
                block,
            };
        }
        let mut upto = bound;
        for g in &groups {
            if g.start < upto && g.end > upto {
                upto = g.start;
            }
        }
        let text = self.render(buf, upto, &groups);
        self.spans = groups.into_iter().filter(|g| g.end > upto).collect();
        let findings = self.take_findings(|f| at_end || f.start < upto);
        self.released = upto;
        Step {
            text,
            findings,
            block: None,
        }
    }

    fn take_findings(&mut self, keep: impl Fn(&Finding) -> bool) -> Vec<Finding> {
        let (mut out, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.findings)
            .into_iter()
            .partition(|(_, f)| keep(f));
        self.findings = rest;
        out.sort_by(finding_order);
        out.into_iter().map(|(_, f)| f).collect()
    }

    /// Renders original text from `self.released` to `upto`, replacing every group that ends by
    /// `upto`.
    fn render(&mut self, buf: &str, upto: usize, groups: &[Span]) -> String {
        let mut out = String::with_capacity(upto.saturating_sub(self.released));
        let mut pos = self.released;
        for g in groups {
            if g.end > upto || g.start < pos {
                continue;
            }
            out.push_str(slice(buf, self.base, pos, g.start));
            match &g.replace {
                Replace::Redact { label, restore } => {
                    let original = slice(buf, self.base, g.start, g.end);
                    out.push_str(self.vault.placeholder_for(label, original, *restore));
                }
                Replace::Restore { original } => out.push_str(original),
            }
            pos = g.end;
        }
        if upto > pos {
            out.push_str(slice(buf, self.base, pos, upto));
        }
        out
    }

    /// Drops original text that is neither unreleased nor needed as context.
    fn trim(&mut self) {
        let mut keep = self.released;
        for slot in self.slots.iter().chain(self.restore.as_ref().map(|r| &r.1)) {
            keep = keep.min(slot.cursor);
        }
        for counter in &self.lengths {
            keep = keep.min(counter.counted);
        }
        let rel = keep.saturating_sub(self.base).min(self.buf.len());
        // Keep CONTEXT_CHARS visible starter characters before `keep` as look-behind context.
        let mut cut = 0;
        let mut seen = 0;
        for (i, c) in self.buf[..rel].char_indices().rev() {
            if is_starter(c) && !is_invisible(c) {
                seen += 1;
                if seen == CONTEXT_CHARS {
                    cut = i;
                    break;
                }
            }
        }
        if cut > 0 {
            self.buf.drain(..cut);
            self.base += cut;
        }
    }
}

fn slice(buf: &str, base: usize, from: usize, to: usize) -> &str {
    buf.get(from.saturating_sub(base)..to.saturating_sub(base))
        .unwrap_or("")
}

/// Merges overlapping spans into groups. A group keeps the replacement of its first span (by
/// start, then rule order), except that a redaction always wins over a restoration.
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| (s.start, s.rule, s.end));
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(g) if s.start < g.end => {
                g.end = g.end.max(s.end);
                if matches!(g.replace, Replace::Restore { .. })
                    && matches!(s.replace, Replace::Redact { .. })
                {
                    g.replace = s.replace;
                    g.rule = s.rule;
                }
            }
            _ => out.push(s),
        }
    }
    out
}

fn view_of<'v, 'w>(
    views: &'v mut [Option<View<'w>>; 3],
    window: &'w str,
    kind: ViewKind,
) -> &'v View<'w> {
    let i = match kind {
        ViewKind::Original => 0,
        ViewKind::Folded => 1,
        ViewKind::Lower => 2,
    };
    views[i].get_or_insert_with(|| View::build(window, kind))
}

/// Runs one detector over a window. Pushes `(candidate, absolute start, absolute end)` for every
/// committed candidate, and advances the slot.
fn scan_one(
    det: &dyn Detector,
    view: &View<'_>,
    base: usize,
    complete: usize,
    at_end: bool,
    slot: &mut Slot,
    commits: &mut Vec<(Candidate, usize, usize)>,
) {
    let hay = view.text();
    let n = hay.len();
    let mut from = view.to_view(slot.cursor.saturating_sub(base));
    let round = |e: usize| view.to_view(view.orig_end(e));
    let mut emit = |c: Candidate| {
        let s = base + view.orig_start(c.span_start);
        let e = base + view.orig_end(c.span_end);
        commits.push((c, s, e));
    };
    if at_end {
        while let Some(c) = det.next(hay, from) {
            let next = round(c.end.max(c.start + 1));
            emit(c);
            if next <= from {
                break;
            }
            from = next;
        }
        slot.cursor = complete;
        slot.live_from = complete;
        return;
    }
    let bound = n.saturating_sub(det.max_len().saturating_add(1));
    let liveness = det.liveness();
    let live_at = |from: usize, slot: &mut Slot| -> usize {
        if let Some(p) = det.earliest_pending(hay, from) {
            return p.max(from);
        }
        match liveness {
            Some(l) => {
                let start = from.max(view.to_view(slot.live_from.saturating_sub(base)));
                let cache = slot.cache.get_or_insert_with(|| Box::new(l.create_cache()));
                l.earliest_live(cache, hay, start)
            }
            None => from,
        }
    };
    let mut live = live_at(from, slot);
    let pending = loop {
        let determined = live.max(bound).max(from);
        match det.next(hay, from) {
            Some(c) if c.start < determined && c.end < n => {
                let next = round(c.end.max(c.start + 1));
                emit(c);
                if next <= from {
                    break from;
                }
                from = next;
                if live < from {
                    live = live_at(from, slot);
                }
            }
            Some(c) => break c.start.min(determined).max(from),
            None => break determined.min(n),
        }
    };
    let pending = hay.floor_char_boundary(pending);
    slot.cursor = base + view.orig_start(pending);
    slot.live_from = base + view.orig_start(hay.floor_char_boundary(live.min(n)).max(pending));
}

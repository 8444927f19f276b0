//! A multi-pattern detector with a validator per pattern; the building block of the built-in
//! `pii`, `secrets` and `injection` detectors.

use std::fmt;
use std::sync::{Arc, OnceLock};

use regex_automata::hybrid;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::meta::Regex;
use regex_automata::util::pool::Pool;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, Match, Span};

use super::anchor_windows::{Anchors, find_around};
use super::hinted_search::HintedSearch;
use super::regex_rule::check_pattern;
use super::{Candidate, Detector, Liveness};
use crate::normalize::ViewKind;

/// What a validator decides about one regex match `hay[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Report `span` (within the match, possibly shorter), resume the scan at `end`.
    Accept {
        /// End of the accepted match (the next search starts here); `start < end <= match end`.
        end: usize,
        /// The reported span.
        span: (usize, usize),
        /// Confidence.
        score: f32,
    },
    /// Not a finding; resume the scan at `resume` (`start < resume <= match end`).
    Reject {
        /// Where the next search starts.
        resume: usize,
    },
}

/// A validator: looks at the haystack and the match bounds (it may read one character on either
/// side of the match, no more).
pub type Validator = Box<dyn Fn(&str, usize, usize) -> Outcome + Send + Sync>;

/// One pattern of a set.
pub struct PatternDef {
    /// Regex source (compiled with the set's syntax options).
    pub regex: String,
    /// Index into the set's kinds.
    pub kind: usize,
    /// Decides about each match; `None` accepts every match with score 1.
    pub validate: Option<Validator>,
}

impl PatternDef {
    /// A pattern accepted as is.
    pub fn plain(regex: &str, kind: usize) -> Self {
        PatternDef {
            regex: regex.to_owned(),
            kind,
            validate: None,
        }
    }

    /// A pattern with a validator.
    pub fn validated(
        regex: &str,
        kind: usize,
        f: impl Fn(&str, usize, usize) -> Outcome + Send + Sync + 'static,
    ) -> Self {
        PatternDef {
            regex: regex.to_owned(),
            kind,
            validate: Some(Box::new(f)),
        }
    }
}

/// The lazy DFA cache of each search (the default is 2 MiB). A set of many patterns with Unicode
/// classes (all of `pii`, say) needs more states than that on mixed text; a cache that fills up is
/// cleared and rebuilt again and again, which made the whole `pii` set 40x slower than its
/// entities one by one.
pub(crate) const LAZY_DFA_CACHE_BYTES: usize = 16 << 20;

/// The settings of the lazy DFAs a set searches with besides the regex engine (anchored and
/// hinted searches): a cache of `cache_bytes` that is cleared when full, however often, rather
/// than the search giving up.
pub(crate) fn lazy_dfa_config(cache_bytes: usize) -> hybrid::dfa::Config {
    DFA::config()
        .cache_capacity(cache_bytes)
        .minimum_cache_clear_count(None)
}

/// Makes a `T` (a lazy DFA's cache, say) for a [`Pool`] that hands them out one thread at a
/// time.
pub(crate) type MakeCache<T> =
    Box<dyn Fn() -> T + Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>;

/// Finds the first position at or after `from` where a match of a set may start (`None`: no
/// match can start in `hay[from..]`; `from` need not be on a character boundary). It must never
/// skip a possible start: the set's findings are then the same as without it, only found sooner.
pub type StartHint = fn(hay: &str, from: usize) -> Option<usize>;

/// Several patterns compiled into one leftmost-first automaton.
pub struct PatternSet {
    kinds: Vec<Arc<str>>,
    regex: Regex,
    sources: Vec<String>,
    syntax: syntax::Config,
    defs: Vec<(usize, Option<Validator>)>,
    /// Built on first use: only streams need it, and it is most of what building a set costs.
    /// `None` inside if it cannot be built (streams then hold back `max_len` bytes instead).
    liveness: OnceLock<Option<Liveness>>,
    view: ViewKind,
    max_len: usize,
    search: Search,
}

/// How a set looks for its leftmost match; every way finds the same matches.
enum Search {
    /// The automaton over the text from the cursor.
    Plain,
    /// The automaton from the first position the hint allows, jumping ahead with the hint again
    /// each time it is back in its start state (see [`super::hinted_search`]).
    Hinted(StartHint, Box<HintedSearch>),
    /// One anchored search at each position the hint gives.
    AnchoredStarts(StartHint, Box<AnchoredSearch>),
    /// The automaton only in windows around the anchors' occurrences.
    AroundAnchors(Anchors),
}

impl fmt::Debug for PatternSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PatternSet")
            .field("kinds", &self.kinds)
            .field("view", &self.view)
            .field("max_len", &self.max_len)
            .finish()
    }
}

impl PatternSet {
    /// Compiles `defs` to read `view`; every pattern must be bounded.
    pub fn new(
        kinds: Vec<Arc<str>>,
        defs: Vec<PatternDef>,
        view: ViewKind,
        case_insensitive: bool,
    ) -> Result<Self, String> {
        let mut max_len = 0;
        for d in &defs {
            let max = check_pattern(&d.regex, case_insensitive, true)
                .map_err(|e| format!("pattern `{}`: {e}", d.regex))?;
            max_len = max_len.max(max.unwrap_or(0));
        }
        let sources: Vec<&str> = defs.iter().map(|d| d.regex.as_str()).collect();
        let cfg = syntax::Config::new()
            .case_insensitive(case_insensitive)
            .multi_line(true);
        let regex = Regex::builder()
            .syntax(cfg)
            .configure(Regex::config().hybrid_cache_capacity(LAZY_DFA_CACHE_BYTES))
            .build_many(&sources)
            .map_err(|e| e.to_string())?;
        Ok(PatternSet {
            kinds,
            regex,
            sources: sources.iter().map(|s| (*s).to_owned()).collect(),
            syntax: cfg,
            defs: defs.into_iter().map(|d| (d.kind, d.validate)).collect(),
            liveness: OnceLock::new(),
            view,
            max_len,
            search: Search::Plain,
        })
    }

    /// Runs the automaton only in windows around occurrences of `anchors`, one of which every
    /// match of every pattern must contain (see [`super::anchor_windows`]; the caller proves it).
    pub fn with_anchors(mut self, anchors: Anchors) -> Self {
        self.search = Search::AroundAnchors(anchors);
        self
    }

    /// The same set searching the plain way, without hint or anchors (tests compare the two).
    #[cfg(test)]
    pub(crate) fn plain(mut self) -> Self {
        self.search = Search::Plain;
        self
    }

    /// Skips text where no match can start, wherever the automaton is not in the middle of a
    /// possible match (see [`StartHint`]).
    ///
    /// Fails only if the set's automaton cannot be built again for this search (it was built
    /// once already, so in practice never).
    pub fn with_start_hint(mut self, hint: StartHint) -> Result<Self, String> {
        let hinted = HintedSearch::new(&self.sources, self.syntax)?;
        self.search = Search::Hinted(hint, Box::new(hinted));
        Ok(self)
    }

    /// Searches only at the positions `starts` gives, one anchored search at each: far faster
    /// than running the automaton over all the text when possible starts are rare and easy to
    /// find (next to a separator byte, say). Like a [`StartHint`], `starts` must never skip a
    /// position where a match may start.
    ///
    /// Fails only if the set's automaton cannot be built again for anchored searches (it was
    /// built once already, so in practice never).
    pub fn with_anchored_starts(mut self, starts: StartHint) -> Result<Self, String> {
        let anchored = AnchoredSearch::new(&self.sources, self.syntax)?;
        self.search = Search::AnchoredStarts(starts, Box::new(anchored));
        Ok(self)
    }

    /// The leftmost match that starts where `starts` allows, at or after `from`.
    fn find_anchored(
        &self,
        starts: StartHint,
        anchored: &AnchoredSearch,
        hay: &str,
        mut from: usize,
    ) -> Option<Match> {
        let mut cache = anchored.caches.get();
        loop {
            let p = starts(hay, from)?;
            let input = Input::new(hay).range(p..).anchored(Anchored::Yes);
            let found = match anchored.dfa.try_search_fwd(&mut cache, &input) {
                Ok(half) => half.map(|h| Match::new(h.pattern(), Span::from(p..h.offset()))),
                // The lazy DFA gave up (it never does on these sets): the full engine decides.
                Err(_) => self.regex.search(&input),
            };
            if found.is_some() {
                return found;
            }
            from = p + 1;
        }
    }
}

/// A forward lazy DFA for anchored searches: from a known start, the end of the leftmost-first
/// match is all there is to find, so the reverse pass and the set-up of a full search are spared.
struct AnchoredSearch {
    dfa: DFA,
    /// Caches reused between calls, one per thread at a time.
    caches: Pool<Cache, MakeCache<Cache>>,
}

impl AnchoredSearch {
    fn new(sources: &[String], syntax: syntax::Config) -> Result<Self, String> {
        let dfa = DFA::builder()
            .syntax(syntax)
            .configure(lazy_dfa_config(LAZY_DFA_CACHE_BYTES))
            .build_many(sources)
            .map_err(|e| e.to_string())?;
        let for_caches = dfa.clone();
        let create: MakeCache<Cache> = Box::new(move || for_caches.create_cache());
        Ok(AnchoredSearch {
            dfa,
            caches: Pool::new(create),
        })
    }
}

impl Detector for PatternSet {
    fn kinds(&self) -> &[Arc<str>] {
        &self.kinds
    }

    fn view(&self) -> ViewKind {
        self.view
    }

    fn max_len(&self) -> usize {
        self.max_len
    }

    fn next(&self, hay: &str, from: usize) -> Option<Candidate> {
        if from > hay.len() {
            return None;
        }
        let m = match &self.search {
            Search::Plain => self.regex.find(Input::new(hay).range(from..))?,
            Search::Hinted(hint, hinted) => match hinted.find(*hint, hay, from) {
                Ok(found) => found?,
                // The lazy DFA gave up (it never does on these sets): the full engine decides.
                Err(_) => self.regex.find(Input::new(hay).range(from..))?,
            },
            Search::AnchoredStarts(starts, anchored) => {
                self.find_anchored(*starts, anchored, hay, from)?
            }
            Search::AroundAnchors(anchors) => {
                find_around(anchors, &self.regex, hay.as_bytes(), from, self.max_len)?
            }
        };
        let (kind, validate) = self.defs.get(m.pattern().as_usize())?;
        let (s, e) = (m.start(), m.end());
        let outcome = match validate {
            Some(f) => f(hay, s, e),
            None => Outcome::Accept {
                end: e,
                span: (s, e),
                score: 1.0,
            },
        };
        Some(match outcome {
            Outcome::Accept { end, span, score } => Candidate {
                start: s,
                end: end.clamp(s + 1, e),
                span_start: span.0.clamp(s, e),
                span_end: span.1.clamp(s, e),
                kind: *kind,
                score,
            },
            Outcome::Reject { resume } => Candidate::whole(s, resume.clamp(s + 1, e), *kind, 0.0),
        })
    }

    fn liveness(&self) -> Option<&Liveness> {
        self.liveness
            .get_or_init(|| Liveness::new(&self.sources, self.syntax).ok())
            .as_ref()
    }

    fn prepare_to_stream(&self) {
        self.liveness();
    }
}

/// Accepts the whole match with `score` unless the characters around it are alphanumeric.
pub fn bounded_token(hay: &str, s: usize, e: usize, score: f32) -> Outcome {
    let before = super::char_before(hay, s).is_some_and(char::is_alphanumeric);
    let after = super::char_at(hay, e).is_some_and(char::is_alphanumeric);
    if before || after {
        Outcome::Reject { resume: e }
    } else {
        Outcome::Accept {
            end: e,
            span: (s, e),
            score,
        }
    }
}

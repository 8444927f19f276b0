//! Stop-string matching over streamed text that never releases any part of a stop string.
//!
//! Text that could be the beginning of a stop string is held back until it either completes
//! the stop string (generation ends; the held text is dropped) or stops matching (it is
//! released). Matching is on the decoded text, so a stop string may span several tokens.

/// Result of feeding a text delta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    /// No stop string yet; the text that is safe to release.
    Continue(String),
    /// A stop string occurred; the text before it that was not released yet.
    Stopped(String),
}

/// Incremental matcher for a set of stop strings.
#[derive(Debug, Clone, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    pending: String,
}

impl StopMatcher {
    /// A matcher for `stops` (empty strings are ignored).
    pub fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            pending: String::new(),
        }
    }

    /// Feeds `delta`; returns what can be released or that a stop string was hit.
    pub fn push(&mut self, delta: &str) -> StopOutcome {
        self.pending.push_str(delta);
        if self.stops.is_empty() {
            return StopOutcome::Continue(std::mem::take(&mut self.pending));
        }
        let first_hit = self
            .stops
            .iter()
            .filter_map(|s| self.pending.find(s.as_str()))
            .min();
        if let Some(at) = first_hit {
            let released = self.pending[..at].to_string();
            self.pending.clear();
            return StopOutcome::Stopped(released);
        }
        let hold_from = self.longest_partial_suffix();
        let released = self.pending[..hold_from].to_string();
        self.pending.drain(..hold_from);
        StopOutcome::Continue(released)
    }

    /// Start of the longest suffix of `pending` that is a proper prefix of some stop string
    /// (`pending.len()` when there is none).
    fn longest_partial_suffix(&self) -> usize {
        let p = &self.pending;
        let longest_stop = self.stops.iter().map(String::len).max().unwrap_or(0);
        let earliest = p.len().saturating_sub(longest_stop.saturating_sub(1));
        (earliest..p.len())
            .filter(|&i| p.is_char_boundary(i))
            .find(|&i| self.stops.iter().any(|s| s.starts_with(&p[i..])))
            .unwrap_or(p.len())
    }

    /// Releases the held-back text (generation ended for another reason).
    pub fn flush(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stops(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn without_stops_everything_is_released() {
        let mut m = StopMatcher::new(&[]);
        assert_eq!(m.push("abc"), StopOutcome::Continue("abc".into()));
        assert_eq!(m.flush(), "");
    }

    #[test]
    fn stop_inside_one_delta() {
        let mut m = StopMatcher::new(&stops(&["END"]));
        assert_eq!(
            m.push("hello END world"),
            StopOutcome::Stopped("hello ".into())
        );
    }

    #[test]
    fn stop_spanning_deltas_is_never_partially_released() {
        let mut m = StopMatcher::new(&stops(&["\nUser:"]));
        assert_eq!(m.push("Sure"), StopOutcome::Continue("Sure".into()));
        assert_eq!(m.push(".\n"), StopOutcome::Continue(".".into()));
        assert_eq!(m.push("Us"), StopOutcome::Continue(String::new()));
        assert_eq!(m.push("er"), StopOutcome::Continue(String::new()));
        assert_eq!(m.push(": hi"), StopOutcome::Stopped(String::new()));
    }

    #[test]
    fn false_start_is_released_once_it_diverges() {
        let mut m = StopMatcher::new(&stops(&["STOP"]));
        assert_eq!(m.push("ST"), StopOutcome::Continue(String::new()));
        assert_eq!(m.push("AR"), StopOutcome::Continue("STAR".into()));
        assert_eq!(m.push("S"), StopOutcome::Continue(String::new()));
        assert_eq!(m.flush(), "S");
    }

    #[test]
    fn overlapping_prefix_keeps_the_longest_candidate() {
        // "aab" must stop even though "aa" first looked like a divergence of "ab".
        let mut m = StopMatcher::new(&stops(&["ab"]));
        assert_eq!(m.push("a"), StopOutcome::Continue(String::new()));
        assert_eq!(m.push("a"), StopOutcome::Continue("a".into()));
        assert_eq!(m.push("b"), StopOutcome::Stopped(String::new()));
    }

    #[test]
    fn earliest_of_several_stops_wins_and_unicode_is_safe() {
        let mut m = StopMatcher::new(&stops(&["ß!", "é"]));
        assert_eq!(m.push("caféß!"), StopOutcome::Stopped("caf".into()));
        let mut m = StopMatcher::new(&stops(&["😀😀"]));
        assert_eq!(m.push("x😀"), StopOutcome::Continue("x".into()));
        assert_eq!(m.push("y"), StopOutcome::Continue("😀y".into()));
    }
}

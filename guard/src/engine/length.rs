//! The `length` rule: an exact, incremental byte or token counter.

use crate::policy::LengthUnit;

/// Counting state of one `length` rule over a text that arrives in pieces.
#[derive(Debug, Clone)]
pub struct LengthCounter {
    max: u64,
    unit: LengthUnit,
    count: u64,
    /// Characters in the current run of letters and digits (token mode).
    run: u64,
    /// Absolute offset up to which text has been counted.
    pub counted: usize,
    /// Set once the limit is exceeded: the span of the first byte/token past it.
    pub exceeded: Option<(usize, usize)>,
}

impl LengthCounter {
    /// A counter for `max` units.
    pub fn new(max: u64, unit: LengthUnit) -> Self {
        LengthCounter {
            max,
            unit,
            count: 0,
            run: 0,
            counted: 0,
            exceeded: None,
        }
    }

    /// Counts `text`, which starts at absolute offset `self.counted` and consists of whole
    /// characters. Stops at the first unit past the limit.
    pub fn feed(&mut self, text: &str) {
        if self.exceeded.is_some() {
            self.counted += text.len();
            return;
        }
        let base = self.counted;
        self.counted += text.len();
        match self.unit {
            LengthUnit::Bytes => {
                let limit = usize::try_from(self.max).unwrap_or(usize::MAX);
                if base + text.len() > limit {
                    // The first character that does not fit entirely: the one holding the
                    // first byte past the limit.
                    let i = text.floor_char_boundary(limit.saturating_sub(base));
                    let len = text[i..].chars().next().map_or(0, char::len_utf8);
                    self.exceeded = Some((base + i, base + i + len));
                }
            }
            LengthUnit::Tokens => {
                for (i, c) in text.char_indices() {
                    let starts_token = if c.is_alphanumeric() {
                        let new = self.run.is_multiple_of(4);
                        self.run += 1;
                        new
                    } else {
                        self.run = 0;
                        !c.is_whitespace()
                    };
                    if starts_token {
                        self.count += 1;
                        if self.count > self.max {
                            self.exceeded = Some((base + i, base + i + c.len_utf8()));
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// The approximate token count of `text` used by `unit: tokens`.
pub fn approx_tokens(text: &str) -> u64 {
    let mut c = LengthCounter::new(u64::MAX, LengthUnit::Tokens);
    c.feed(text);
    c.count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_limit_marks_first_char_past_it() {
        let mut c = LengthCounter::new(5, LengthUnit::Bytes);
        c.feed("abc");
        assert_eq!(c.exceeded, None);
        c.feed("dé!");
        // "abcd" = 4 bytes, "é" would end at 6 > 5.
        assert_eq!(c.exceeded, Some((4, 6)));
        // The limit on a character boundary, and inside a later feed.
        for (max, feeds, want) in [
            (4, &["abcdé"][..], (4, 6)),
            (5, &["ab", "cdé", "x"], (4, 6)),
            (6, &["ab", "cdé", "xyz"], (6, 7)),
            (0, &["", "é"], (0, 2)),
        ] {
            let mut c = LengthCounter::new(max, LengthUnit::Bytes);
            for f in feeds {
                c.feed(f);
            }
            assert_eq!(c.exceeded, Some(want), "max {max}, {feeds:?}");
        }
    }

    #[test]
    fn token_estimate() {
        assert_eq!(approx_tokens("hello, world"), 5); // hell|o , worl|d
        assert_eq!(approx_tokens("a b c"), 3);
        let mut c = LengthCounter::new(2, LengthUnit::Tokens);
        c.feed("ab cd ef");
        assert_eq!(c.exceeded, Some((6, 7)));
    }
}

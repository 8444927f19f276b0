//! Grounding checks: which numbers, dates and capitalised names of an answer
//! appear nowhere in its context (retrieved documents, the system prompt, the
//! question). Text work, done here in the root crate; only the counts reach
//! telemetry.
//!
//! The checks are lexical and deliberately simple: a number is grounded when
//! the same value is written in the context (`1,000` = `1000`), a date when
//! its month and numbers are, a name when each of its capitalised words is
//! (case-insensitively, possessive `'s` removed).

use std::collections::HashSet;

/// What the grounding checks found in one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroundingCounts {
    /// Numbers (outside dates) absent from the context.
    pub ungrounded_numbers: u32,
    /// Dates (a month name with its day/year, or `YYYY-MM-DD`) absent from the context.
    pub ungrounded_dates: u32,
    /// Runs of capitalised words (names) with a word absent from the context.
    pub ungrounded_entities: u32,
    /// Content words (3+ letters, not a stop word) in the answer.
    pub content_words: u32,
    /// Of those, the ones absent from the context.
    pub novel_content_words: u32,
}

impl GroundingCounts {
    /// The fraction of the answer's content words absent from the context (0
    /// when the answer has none).
    pub fn novel_word_fraction(&self) -> f32 {
        if self.content_words == 0 {
            0.0
        } else {
            self.novel_content_words as f32 / self.content_words as f32
        }
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Words that start sentences or fill phrases without naming anything.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "because",
    "been", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have",
    "he", "her", "his", "how", "however", "i", "if", "in", "into", "is", "it", "its", "no", "not",
    "of", "on", "one", "or", "our", "she", "so", "some", "than", "that", "the", "their", "them",
    "then", "there", "these", "they", "this", "those", "to", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "whom", "why", "will", "with", "would", "yes", "you", "your",
];

/// Lower-case words joining the parts of a name ("Bank of England").
const NAME_JOINERS: &[&str] = &[
    "of", "the", "for", "and", "de", "van", "von", "la", "le", "du",
];

/// One word of a text: a run of letters, digits and inner `'`, `.`, `,`, `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word<'a> {
    text: &'a str,
    /// Whether a sentence end (or the start of the text) comes before it.
    sentence_start: bool,
}

fn words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    let mut start = None;
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(at, c)) in bytes.iter().enumerate() {
        let inner = matches!(c, '\'' | '’' | '.' | ',' | '-')
            && start.is_some()
            && bytes.get(i + 1).is_some_and(|(_, n)| n.is_alphanumeric());
        if c.is_alphanumeric() || inner {
            start.get_or_insert(at);
            continue;
        }
        if let Some(s) = start.take() {
            out.push(Word {
                text: &text[s..at],
                sentence_start,
            });
            sentence_start = false;
        }
        if matches!(c, '.' | '!' | '?' | '\n' | ':' | ';') {
            sentence_start = true;
        }
    }
    if let Some(s) = start {
        out.push(Word {
            text: &text[s..],
            sentence_start,
        });
    }
    out
}

/// `Oberoi's` -> `oberoi`; trailing separators dropped.
fn normalize_word(word: &str) -> String {
    let lower = word.to_lowercase();
    let trimmed = lower
        .strip_suffix("'s")
        .or_else(|| lower.strip_suffix("’s"))
        .unwrap_or(&lower);
    trimmed.trim_end_matches(['.', ',', '-']).to_owned()
}

/// `1,000` -> `1000`, `3.50` -> `3.5`; `None` for a word that is not a number.
fn normalize_number(word: &str) -> Option<String> {
    let digits: String = word.chars().filter(|c| *c != ',').collect();
    let digits = digits.trim_end_matches('.');
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    if !digits.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let normalized = if digits.contains('.') {
        digits.trim_end_matches('0').trim_end_matches('.')
    } else {
        digits
    };
    let normalized = normalized.trim_start_matches('0');
    Some(if normalized.is_empty() || normalized.starts_with('.') {
        format!("0{normalized}")
    } else {
        normalized.to_owned()
    })
}

/// `1st`, `22nd` -> `1`, `22`.
fn ordinal_day(word: &str) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| lower.strip_suffix(s))
        .and_then(normalize_number)
}

fn month_of(word: &str) -> Option<usize> {
    let lower = word.to_lowercase();
    let lower = lower.trim_end_matches('.');
    MONTHS
        .iter()
        .position(|m| *m == lower || (lower.len() == 3 && m.starts_with(lower)))
}

/// An ISO date `YYYY-MM-DD` as (month index, [year, day]).
fn iso_date(word: &str) -> Option<(usize, [String; 2])> {
    let mut parts = word.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 {
        return None;
    }
    let month: usize = m.parse().ok()?;
    let day = normalize_number(d)?;
    let year = normalize_number(y)?;
    (1..=12).contains(&month).then(|| (month - 1, [year, day]))
}

/// Everything a context offers to ground an answer in.
struct ContextIndex {
    words: HashSet<String>,
    numbers: HashSet<String>,
    months: HashSet<usize>,
}

impl ContextIndex {
    fn new(context: &str) -> Self {
        let mut index = ContextIndex {
            words: HashSet::new(),
            numbers: HashSet::new(),
            months: HashSet::new(),
        };
        for word in words(context) {
            index.words.insert(normalize_word(word.text));
            if let Some(n) = normalize_number(word.text).or_else(|| ordinal_day(word.text)) {
                index.numbers.insert(n);
            }
            if let Some(m) = month_of(word.text) {
                index.months.insert(m);
            }
            if let Some((m, numbers)) = iso_date(word.text) {
                index.months.insert(m);
                index.numbers.extend(numbers);
            }
            // Parts of hyphenated words and number ranges (`1844–1846` is split by the
            // tokenizer already; `1844-1846` is not).
            for part in word.text.split('-').filter(|p| !p.is_empty()) {
                index.words.insert(normalize_word(part));
                if let Some(n) = normalize_number(part) {
                    index.numbers.insert(n);
                }
            }
        }
        index
    }

    fn has_number(&self, word: &str) -> bool {
        normalize_number(word)
            .or_else(|| ordinal_day(word))
            .is_some_and(|n| self.numbers.contains(&n))
    }
}

fn is_capitalised(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

/// Counts the answer's numbers, dates and names that its context does not contain.
pub fn check_grounding(answer: &str, context: &str) -> GroundingCounts {
    let index = ContextIndex::new(context);
    let answer_words = words(answer);
    let mut counts = GroundingCounts::default();
    let mut used = vec![false; answer_words.len()];

    // Dates first, so that their numbers are not counted again as numbers.
    for i in 0..answer_words.len() {
        let word = answer_words[i].text;
        if let Some((month, numbers)) = iso_date(word) {
            used[i] = true;
            let grounded =
                index.months.contains(&month) && numbers.iter().all(|n| index.numbers.contains(n));
            let grounded = grounded || index.words.contains(&normalize_word(word));
            counts.ungrounded_dates += u32::from(!grounded);
            continue;
        }
        // Month names are capitalised in English; "may" and "march" are verbs.
        let Some(month) = month_of(word).filter(|_| is_capitalised(word)) else {
            continue;
        };
        // Numbers right before ("2 March") and after ("March 2, 1991") the month.
        let numeric = |w: &Word<'_>| normalize_number(w.text).or_else(|| ordinal_day(w.text));
        let mut span = vec![i];
        if i > 0 && !used[i - 1] && numeric(&answer_words[i - 1]).is_some() {
            span.push(i - 1);
        }
        let after = answer_words[i + 1..].iter().take(2);
        span.extend(
            after
                .take_while(|w| numeric(w).is_some())
                .enumerate()
                .map(|(k, _)| i + 1 + k),
        );
        if span.len() == 1 && month == 4 {
            continue; // "May" alone is more often a name or a verb than a date.
        }
        let grounded = index.months.contains(&month)
            && span[1..]
                .iter()
                .all(|&j| index.has_number(answer_words[j].text));
        for &j in &span {
            used[j] = true;
        }
        counts.ungrounded_dates += u32::from(!grounded);
    }

    let mut i = 0;
    while i < answer_words.len() {
        let word = &answer_words[i];
        if used[i] {
            i += 1;
            continue;
        }
        if normalize_number(word.text).is_some() {
            counts.ungrounded_numbers += u32::from(!index.has_number(word.text));
            i += 1;
            continue;
        }
        let lower = normalize_word(word.text);
        let alphabetic = lower.chars().any(char::is_alphabetic);
        if alphabetic && lower.chars().count() >= 3 && !STOP_WORDS.contains(&lower.as_str()) {
            counts.content_words += 1;
            counts.novel_content_words += u32::from(!index.words.contains(&lower));
        }
        if !is_capitalised(word.text)
            || (word.sentence_start && STOP_WORDS.contains(&lower.as_str()))
        {
            i += 1;
            continue;
        }
        // A name: capitalised words, possibly joined by "of", "the", ...
        let mut grounded = true;
        let mut j = i;
        while j < answer_words.len() && !used[j] {
            let w = &answer_words[j];
            let lw = normalize_word(w.text);
            if j > i && w.sentence_start {
                break;
            }
            if is_capitalised(w.text) {
                if !(j == i && w.sentence_start && STOP_WORDS.contains(&lw.as_str())) {
                    grounded &= index.words.contains(&lw);
                }
                if j > i {
                    let alphabetic = lw.chars().any(char::is_alphabetic);
                    if alphabetic && lw.chars().count() >= 3 && !STOP_WORDS.contains(&lw.as_str()) {
                        counts.content_words += 1;
                        counts.novel_content_words += u32::from(!index.words.contains(&lw));
                    }
                }
                j += 1;
            } else if NAME_JOINERS.contains(&lw.as_str())
                && answer_words
                    .get(j + 1)
                    .is_some_and(|n| is_capitalised(n.text) && !n.sentence_start)
            {
                j += 1;
            } else {
                break;
            }
        }
        counts.ungrounded_entities += u32::from(!grounded);
        i = j.max(i + 1);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBEROI: &str = "The Oberoi family is an Indian family that is famous for its \
        involvement in hotels, namely through The Oberoi Group.The Oberoi Group is a hotel \
        company with its head office in Delhi. The Oberoi family is part of a hotel company \
        that has a head office in what city?";

    #[test]
    fn a_name_from_the_context_is_grounded_and_an_invented_one_is_not() {
        assert_eq!(check_grounding("Delhi", OBEROI).ungrounded_entities, 0);
        let invented = check_grounding(
            "The Oberoi family's hotel company is based in Mumbai.",
            OBEROI,
        );
        assert_eq!(invented.ungrounded_entities, 1, "{invented:?}");
        assert_eq!(invented.ungrounded_numbers, 0);
    }

    #[test]
    fn numbers_compare_by_value() {
        let context = "The bridge is 1,250 metres long and opened in 1932; tolls are 3.50 dollars.";
        let c = check_grounding("It is 1250 metres long and costs 3.5 dollars.", context);
        assert_eq!(c.ungrounded_numbers, 0, "{c:?}");
        let c = check_grounding("It is 1,300 metres long and opened in 1932.", context);
        assert_eq!(c.ungrounded_numbers, 1, "{c:?}");
    }

    #[test]
    fn dates_need_their_month_and_numbers_in_the_context() {
        let context = "Allison Beth Goertz (born March 2, 1991) is an American musician.";
        assert_eq!(
            check_grounding("She was born on March 2, 1991.", context).ungrounded_dates,
            0
        );
        let c = check_grounding("She was born on 2 April 1991.", context);
        assert_eq!((c.ungrounded_dates, c.ungrounded_numbers), (1, 0), "{c:?}");
        let c = check_grounding("Released 1991-03-02, reissued 2001-03-02.", context);
        assert_eq!(c.ungrounded_dates, 1, "{c:?}");
    }

    #[test]
    fn sentence_openers_and_the_verb_may_are_not_names_or_dates() {
        let c = check_grounding("The answer may be found. It is there.", "nothing");
        assert_eq!((c.ungrounded_entities, c.ungrounded_dates), (0, 0), "{c:?}");
    }

    #[test]
    fn multiword_names_are_one_entity() {
        let c = check_grounding("He studied at the Bank of England in London.", "A school.");
        assert_eq!(c.ungrounded_entities, 2, "{c:?}");
        let c = check_grounding("Arthur's Magazine", "Arthur's Magazine (1844–1846) was");
        assert_eq!(c.ungrounded_entities, 0, "{c:?}");
    }

    #[test]
    fn novel_words_are_counted_against_the_context() {
        let c = check_grounding("hotels in Delhi, famous hotels", OBEROI);
        assert_eq!(c.content_words, 4);
        assert_eq!(c.novel_content_words, 0);
        let c = check_grounding("cheap motels nearby", OBEROI);
        assert_eq!(c.novel_word_fraction(), 1.0);
        assert_eq!(GroundingCounts::default().novel_word_fraction(), 0.0);
    }
}

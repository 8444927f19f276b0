//! Text normalisation for matching, with offsets mapped back to the original text.
//!
//! The original text is cut into *segments*: a starter character (canonical combining class 0)
//! followed by at most [`MAX_NON_STARTERS`] non-starters. Each segment is normalised on its own:
//! Unicode NFKC, removal of invisible characters (zero-width, bidi controls, soft hyphen), decoding
//! of tag characters to the ASCII they mirror, folding of common homoglyphs (Cyrillic and Greek look-alikes of Latin letters)
//! and, for the lower-case view, case folding. Because segments are independent, the view of
//! any segment-aligned slice equals the same slice of the whole text's view, which is what lets
//! the streaming guard scan a window and get exactly the whole-text result.
//!
//! Every byte of a view belongs to exactly one segment, so a span of the view maps back to the
//! smallest run of whole original segments that produced it.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

use crate::char_facts::{is_stable, is_starter, lowers_to_other, verbatim_facts};

use crate::homoglyph;

/// A segment never holds more non-starters than this; a longer run starts a new segment.
pub const MAX_NON_STARTERS: usize = 31;

/// Which normalised form of the text a detector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewKind {
    /// The original text, byte for byte.
    Original,
    /// NFKC, invisible characters removed, tag characters decoded, homoglyphs folded; case
    /// preserved.
    Folded,
    /// [`ViewKind::Folded`], then lower-cased.
    Lower,
}

/// Whether a character is invisible and removed before matching.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// One entry of a view's offset map: where a segment (or a run of single-byte ASCII segments,
/// copied byte for byte) starts in the view and in the original.
#[derive(Debug, Clone, Copy)]
struct MapEntry {
    view: u32,
    orig: u32,
    /// The entry covers one-character segments copied byte for byte: offsets inside it shift
    /// together.
    verbatim: bool,
}

/// A normalised view of a text plus the map back to original byte offsets.
#[derive(Debug, Clone)]
pub struct View<'a> {
    text: Cow<'a, str>,
    /// Entries in order, then a final sentinel `(view length, original length)`. `None` means the
    /// view is byte-for-byte aligned with the original.
    map: Option<Vec<MapEntry>>,
    orig_len: usize,
}

impl<'a> View<'a> {
    /// Builds the view of `kind` for `orig`.
    pub fn build(orig: &'a str, kind: ViewKind) -> View<'a> {
        match kind {
            ViewKind::Original => View {
                text: Cow::Borrowed(orig),
                map: None,
                orig_len: orig.len(),
            },
            _ if orig.is_ascii() => {
                let text =
                    if kind == ViewKind::Lower && orig.bytes().any(|b| b.is_ascii_uppercase()) {
                        Cow::Owned(orig.to_ascii_lowercase())
                    } else {
                        Cow::Borrowed(orig)
                    };
                View {
                    text,
                    map: None,
                    orig_len: orig.len(),
                }
            }
            _ => build_mapped(orig, kind == ViewKind::Lower),
        }
    }

    /// The normalised text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The view offset of an original offset that lies on a segment boundary (or the view offset
    /// of the segment that contains it).
    pub fn to_view(&self, orig: usize) -> usize {
        let Some(map) = &self.map else { return orig };
        let idx = map.partition_point(|e| e.orig as usize <= orig);
        let e = map[idx.saturating_sub(1)];
        if e.verbatim {
            e.view as usize + (orig - e.orig as usize)
        } else {
            e.view as usize
        }
    }

    /// The original offset of the start of the segment that produced view byte `view`.
    pub fn orig_start(&self, view: usize) -> usize {
        let Some(map) = &self.map else { return view };
        if view >= self.text.len() {
            return self.orig_len;
        }
        let idx = map.partition_point(|e| e.view as usize <= view);
        let e = map[idx.saturating_sub(1)];
        if e.verbatim {
            e.orig as usize + (view - e.view as usize)
        } else {
            e.orig as usize
        }
    }

    /// The original offset of the end of the segment that produced view byte `view - 1`.
    pub fn orig_end(&self, view: usize) -> usize {
        let Some(map) = &self.map else { return view };
        if view == 0 {
            return 0;
        }
        if view >= self.text.len() {
            return self.orig_len;
        }
        let last = view - 1;
        let idx = map.partition_point(|e| e.view as usize <= last);
        let e = map[idx.saturating_sub(1)];
        if e.verbatim {
            e.orig as usize + (view - e.view as usize)
        } else {
            map.get(idx).map_or(self.orig_len, |n| n.orig as usize)
        }
    }
}

fn build_mapped(orig: &str, lower: bool) -> View<'static> {
    let bytes = orig.as_bytes();
    let mut text = String::with_capacity(orig.len() + 8);
    let mut map: Vec<MapEntry> = Vec::with_capacity(16);
    let mut buf = String::new();
    let mut pos = 0;
    while pos < bytes.len() {
        // Fast path: characters that are whole segments and that the view keeps byte for byte
        // are copied as is (ASCII letters lower-cased for the lower view), a run at a time.
        let (fast, stopper) = verbatim_run(orig, pos);
        if fast > pos {
            if !map.last().is_some_and(|e| e.verbatim) {
                map.push(MapEntry {
                    view: to_u32(text.len()),
                    orig: to_u32(pos),
                    verbatim: true,
                });
            }
            let start = text.len();
            text.push_str(&orig[pos..fast]);
            if lower {
                text[start..].make_ascii_lowercase();
            }
            pos = fast;
            continue;
        }
        map.push(MapEntry {
            view: to_u32(text.len()),
            orig: to_u32(pos),
            verbatim: false,
        });
        // The run stopped at a starter it does not copy; when a starter follows it too, it is a
        // segment of its own (most of them: homoglyphs, capitals, full-width forms).
        if let Some(c) = stopper {
            let next = pos + c.len_utf8();
            if orig[next..].chars().next().is_none_or(is_starter) && is_stable(c) {
                push_char(&mut text, homoglyph::fold(c), lower);
                pos = next;
                continue;
            }
        }
        let end = segment_end(orig, pos);
        let seg = &orig[pos..end];
        match single_stable_char(seg) {
            // One character that NFKC leaves alone (most accented letters, punctuation, emoji):
            // no decomposition machinery needed.
            Some(c) => push_char(&mut text, homoglyph::fold(c), lower),
            None => {
                buf.clear();
                fold_segment(seg, &mut buf);
                for c in buf.chars() {
                    push_char(&mut text, c, lower);
                }
            }
        }
        pos = end;
    }
    map.push(MapEntry {
        view: to_u32(text.len()),
        orig: to_u32(orig.len()),
        verbatim: false,
    });
    View {
        text: Cow::Owned(text),
        map: Some(map),
        orig_len: orig.len(),
    }
}

/// The end of the run from `start` of characters that are whole segments (the character after
/// each is a starter) and that both views keep byte for byte: ASCII (whose letters the lower
/// view lower-cases in place) and characters that are visible, NFKC-stable, no homoglyph and
/// their own lower case (CJK, kana, emoji, lower-case accented letters). The folded and lower
/// views take the same runs, so their offset maps are the same. Also returns the starter that
/// stopped the run at its end, if one did.
fn verbatim_run(orig: &str, start: usize) -> (usize, Option<char>) {
    let bytes = orig.as_bytes();
    let mut pos = start;
    // The length of the run's last character (0 while the run is empty).
    let mut last_len = 0;
    loop {
        if bytes.get(pos).is_some_and(u8::is_ascii) {
            pos += ascii_run(&bytes[pos..]);
            last_len = 1;
        }
        let Some(c) = orig.get(pos..).and_then(|rest| rest.chars().next()) else {
            return (pos, None);
        };
        match verbatim_facts(c) {
            // The run's last character carries marks: it is not a whole segment.
            (false, _) => return (pos - last_len, None),
            (true, false) => return (pos, Some(c)),
            (true, true) => {}
        }
        pos += c.len_utf8();
        last_len = c.len_utf8();
    }
}

/// The segment's only character, when it is visible and already in NFKC.
fn single_stable_char(seg: &str) -> Option<char> {
    let mut chars = seg.chars();
    let c = chars.next()?;
    (chars.next().is_none() && is_stable(c)).then_some(c)
}

/// Appends `c`, lower-cased when `lower` is set. Characters that are not alphabetic, or already
/// lower case, have no lower-case mapping (checked for every character by a test), which spares
/// the mapping table's search for most of them.
fn push_char(text: &mut String, c: char, lower: bool) {
    if !lower || c.is_ascii_lowercase() || (!c.is_ascii() && !lowers_to_other(c)) {
        text.push(c);
    } else if c.is_ascii() {
        text.push(c.to_ascii_lowercase());
    } else {
        text.extend(c.to_lowercase());
    }
}

/// The length of the run of ASCII bytes at the start of `bytes`.
pub fn ascii_run(bytes: &[u8]) -> usize {
    const HIGH: u128 = 0x8080_8080_8080_8080_8080_8080_8080_8080;
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 16) {
        let mut word = [0u8; 16];
        word.copy_from_slice(chunk);
        if u128::from_le_bytes(word) & HIGH != 0 {
            break;
        }
        i += 16;
    }
    i + bytes[i..].iter().take_while(|b| b.is_ascii()).count()
}

/// The end of the segment that starts at `start`.
fn segment_end(text: &str, start: usize) -> usize {
    Segments { text, pos: start }
        .next()
        .map_or(text.len(), |(_, e)| e)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Appends the folded (case-preserving) form of one segment to `out`.
fn fold_segment(seg: &str, out: &mut String) {
    let mut chars = seg.chars();
    if let (Some(c), None) = (chars.next(), chars.clone().next()) {
        if c.is_ascii() {
            out.push(c);
            return;
        }
        if let Some(ascii) = tag_ascii(c) {
            out.push(ascii);
            return;
        }
        if is_invisible(c) {
            return;
        }
    }
    for c in seg.nfkc() {
        if let Some(ascii) = tag_ascii(c) {
            out.push(ascii);
        } else if !is_invisible(c) {
            out.push(homoglyph::fold(c));
        }
    }
}

/// The ASCII character a Unicode tag character mirrors (U+E0020..=U+E007E): text written in tag
/// characters is invisible on screen but read by models ("ASCII smuggling"), so views decode it.
fn tag_ascii(c: char) -> Option<char> {
    match u32::from(c) {
        v @ 0xE0020..=0xE007E => char::from_u32(v - 0xE0000),
        _ => None,
    }
}

/// Normalises a whole string the way views do (used for keyword lists).
pub fn normalize_str(s: &str, lower: bool) -> String {
    let kind = if lower {
        ViewKind::Lower
    } else {
        ViewKind::Folded
    };
    View::build(s, kind).text().to_owned()
}

/// Iterator over `(start, end)` byte ranges of segments.
pub struct Segments<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Segments<'a> {
    /// Segments of `text`.
    pub fn new(text: &'a str) -> Self {
        Segments { text, pos: 0 }
    }
}

impl Iterator for Segments<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let rest = self.text.get(self.pos..)?;
        let mut it = rest.char_indices();
        let (_, first) = it.next()?;
        let start = self.pos;
        let mut end = start + first.len_utf8();
        for (non_starters, (i, c)) in it.enumerate() {
            if is_starter(c) || non_starters == MAX_NON_STARTERS {
                break;
            }
            end = start + i + c.len_utf8();
        }
        self.pos = end;
        Some((start, end))
    }
}

/// The end of the longest prefix of `text` made of complete segments, assuming more text may
/// follow: the start of the last segment (whose trailing non-starters may still arrive).
pub fn complete_prefix(text: &str) -> usize {
    let bytes = text.as_bytes();
    match bytes.last() {
        None => 0,
        Some(b) if b.is_ascii() => bytes.len() - 1,
        Some(_) => {
            // Walk back to a starter at most MAX_NON_STARTERS + 1 characters back, then segment
            // forward from there to find the last segment's start.
            let mut anchor = None;
            for (count, (i, c)) in text.char_indices().rev().enumerate() {
                if is_starter(c) {
                    anchor = Some(i);
                    break;
                }
                if count > 2 * MAX_NON_STARTERS + 2 {
                    break;
                }
            }
            let from = match anchor {
                Some(a) => a,
                None => return 0,
            };
            let mut last = from;
            for (s, _) in Segments::new(&text[from..]) {
                last = from + s;
            }
            last
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The sixteen-byte search finds the same first non-ASCII byte as a byte-by-byte one.
        #[test]
        fn ascii_runs_end_at_the_first_non_ascii_byte(
            mut bytes in proptest::collection::vec(0u8..0x80, 0..70),
            at in 0usize..80,
            high in 0x80u8..,
        ) {
            if let Some(b) = bytes.get_mut(at) {
                *b = high;
            }
            let want = bytes.iter().take_while(|b| b.is_ascii()).count();
            proptest::prop_assert_eq!(ascii_run(&bytes), want);
        }
    }

    #[test]
    fn ascii_lower_is_identity_mapped() {
        let v = View::build("Hello World", ViewKind::Lower);
        assert_eq!(v.text(), "hello world");
        assert_eq!(v.orig_start(6), 6);
        assert_eq!(v.orig_end(11), 11);
    }

    #[test]
    fn zero_width_and_homoglyphs_are_folded_and_mapped_back() {
        // "ig\u{200B}nоre" with a Cyrillic о.
        let orig = "say ig\u{200B}n\u{043E}re now";
        let v = View::build(orig, ViewKind::Lower);
        assert_eq!(v.text(), "say ignore now");
        let s = v.text().find("ignore").unwrap_or(0);
        let e = s + "ignore".len();
        assert_eq!(
            &orig[v.orig_start(s)..v.orig_end(e)],
            "ig\u{200B}n\u{043E}re"
        );
    }

    #[test]
    fn tag_characters_are_decoded_to_ascii() {
        let orig = "i\u{E0067}nore \u{E0041}\u{E0001}!";
        let v = View::build(orig, ViewKind::Lower);
        assert_eq!(v.text(), "ignore a!");
        assert_eq!(&orig[v.orig_start(1)..v.orig_end(2)], "\u{E0067}");
    }

    #[test]
    fn nfkc_fullwidth_and_ligatures() {
        let orig = "ＡＢＣ \u{FB01}le";
        let v = View::build(orig, ViewKind::Lower);
        assert_eq!(v.text(), "abc file");
        let s = 4;
        assert_eq!(&orig[v.orig_start(s)..v.orig_end(s + 4)], "\u{FB01}le");
        // A match ending inside the ligature maps to the whole ligature.
        assert_eq!(&orig[v.orig_start(s)..v.orig_end(s + 1)], "\u{FB01}");
    }

    #[test]
    fn combining_marks_compose_within_a_segment() {
        let orig = "cafe\u{0301}!";
        let v = View::build(orig, ViewKind::Folded);
        assert_eq!(v.text(), "caf\u{E9}!");
        assert_eq!(v.to_view(orig.len() - 1), v.text().len() - 1);
    }

    #[test]
    fn the_lower_case_shortcut_holds_for_every_char() {
        for c in (0x80..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(
                lowers_to_other(c),
                !c.to_lowercase().eq(std::iter::once(c)),
                "U+{:04X}",
                c as u32
            );
        }
        assert!(!lowers_to_other('中') && lowers_to_other('Ж'));
    }

    #[test]
    fn the_single_char_shortcut_matches_the_full_fold_for_every_char() {
        let mut slow = String::new();
        for c in (0x80..=0x10FFFFu32).filter_map(char::from_u32) {
            let seg = c.to_string();
            if let Some(fast) = single_stable_char(&seg) {
                slow.clear();
                fold_segment(&seg, &mut slow);
                let fast = homoglyph::fold(fast).to_string();
                assert_eq!(fast, slow, "U+{:04X}", c as u32);
            }
        }
    }

    #[test]
    fn caseless_and_lower_case_characters_are_copied_in_runs() {
        let orig = "日本語 🙂 café, ok";
        for kind in [ViewKind::Folded, ViewKind::Lower] {
            let v = View::build(orig, kind);
            assert_eq!(v.text(), orig);
            assert_eq!(v.map.as_ref().map(Vec::len), Some(2), "one run and the end");
            for i in (0..=orig.len()).filter(|&i| orig.is_char_boundary(i)) {
                assert_eq!((v.to_view(i), v.orig_start(i), v.orig_end(i)), (i, i, i));
            }
        }
        // An upper-case, a homoglyph and a combining mark each break the run.
        let v = View::build("中É中а中e\u{301}", ViewKind::Lower);
        assert_eq!(v.text(), "中é中a中é");
        assert_eq!(v.orig_start(v.text().len() - 2), "中É中а中".len());
    }

    #[test]
    fn complete_prefix_holds_back_last_segment() {
        assert_eq!(complete_prefix("abc"), 2);
        assert_eq!(complete_prefix("ab\u{0301}"), 1);
        assert_eq!(complete_prefix(""), 0);
        assert_eq!(complete_prefix("\u{0301}"), 0);
    }

    #[test]
    fn segments_cap_long_runs_of_marks() {
        let s: String = std::iter::once('a')
            .chain(std::iter::repeat_n('\u{0301}', 40))
            .collect();
        let segs: Vec<_> = Segments::new(&s).collect();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0], (0, 1 + 2 * MAX_NON_STARTERS));
    }
}

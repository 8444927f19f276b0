//! The *skeleton* of a text: only its letters and digits (and the leetspeak symbols `@` and `$`),
//! with URL escapes (`%69`), string escapes (`\x69`, `\u0069`) and HTML character references
//! (`&#105;`, `&#x69;`, `&amp;`) decoded
//! and HTML tag names (`<b>`, `</span>`) dropped. Every skeleton byte remembers the range of the
//! haystack it came from, so a match in the skeleton maps back to the text.
//!
//! Leetspeak is folded as the skeleton is written ([`fold_leet`]): `1gn0r3` becomes `ignore`,
//! so that the phrase patterns matched against it are plain words, which a literal prefilter
//! can find, instead of a character class at every letter.
//!
//! Whether a haystack character is kept, and what it becomes, depends on at most
//! [`LOOK_BEHIND`] bytes before it and [`LOOK_AHEAD`] bytes after it; a run of more than
//! [`MAX_GAP`] dropped bytes between two kept characters becomes a [`BREAK`] that no phrase
//! crosses. Together these keep the obfuscated-phrase detector local and bounded.

use crate::char_facts::is_alphanumeric;

/// The longest token (an escape, a character reference or a tag name) a character can be part of.
pub const MAX_TOKEN: usize = 12;
/// How far before a position the skeleton may need to start to classify it.
pub const LOOK_BEHIND: usize = 16;
/// How far after a character its classification may look.
pub const LOOK_AHEAD: usize = MAX_TOKEN;
/// The most dropped bytes between two kept characters of one phrase.
pub const MAX_GAP: usize = 24;
/// Stands for a longer gap; skeleton patterns never match it.
pub const BREAK: u8 = b'#';
/// The most haystack bytes one skeleton byte (with the gap before it) stands for.
pub const MAX_BYTES_PER_CHAR: usize = MAX_TOKEN + MAX_GAP;

/// How many skeleton bytes apart the restart points of a built skeleton are (at most, give or
/// take one character's bytes): mapping a skeleton offset back replays at most this many.
const MARK_EVERY: usize = 64;

/// A point from which the walk can be replayed: the skeleton length there, the haystack offset of
/// the next kept character and the end of the kept character before it.
#[derive(Debug, Clone, Copy)]
struct Mark {
    index: usize,
    pos: usize,
    last_end: Option<usize>,
}

/// A skeleton of part of a haystack (reused between calls).
///
/// Only the skeleton text is stored, with a restart point every `MARK_EVERY` (64) bytes; where a
/// skeleton byte came from is recomputed on demand by replaying the walk from the restart point
/// before it. Matches are rare, so this costs far less than keeping two offsets per byte.
#[derive(Debug, Default)]
pub struct Skeleton {
    /// The skeleton text (UTF-8): lower-case ASCII letters, digits, `@`, `$`, [`BREAK`] and any
    /// other alphanumeric character as is.
    pub text: Vec<u8>,
    marks: Vec<Mark>,
    /// The haystack end the skeleton was built to.
    end: usize,
}

/// Receives the walk's output.
trait Sink {
    /// A kept character starts at `pos`, `last_end` being the end of the one before; `false`
    /// stops the walk before it.
    fn char_start(&mut self, pos: usize, last_end: Option<usize>) -> bool;
    /// One skeleton byte and the haystack range `start..end` it stands for.
    fn byte(&mut self, b: u8, start: usize, end: usize);
}

/// The letter a lower-case ASCII letter, digit, `@` or `$` stands for in leetspeak, the same for
/// all its spellings: `1`, `l` and `i` are `i` (phrases take each for the others), `4` and `@`
/// are `a`, `8` is `b`, `3` is `e`, `9` is `g`, `0` is `o`, `5` and `$` are `s`, `7` is `t`
/// and `2` is `z`. Every other byte is itself.
pub const fn fold_leet(b: u8) -> u8 {
    match b {
        b'l' | b'1' => b'i',
        b'4' | b'@' => b'a',
        b'8' => b'b',
        b'3' => b'e',
        b'9' => b'g',
        b'0' => b'o',
        b'5' | b'$' => b's',
        b'7' => b't',
        b'2' => b'z',
        _ => b,
    }
}

/// What an ASCII byte becomes in the skeleton: [`DROP`], [`SPECIAL`] (see [`classify`]) or the
/// byte it is kept as (lower-cased, leetspeak folded). Bytes of non-ASCII characters are
/// [`SPECIAL`].
static ASCII_CLASS: [u8; 256] = {
    let mut table = [SPECIAL; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        table[b] = match c {
            b'A'..=b'Z' => fold_leet(c.to_ascii_lowercase()),
            b'a'..=b'z' | b'0'..=b'9' | b'@' | b'$' => fold_leet(c),
            b'%' | b'&' | b'<' | b'\\' => SPECIAL,
            _ => DROP,
        };
        b += 1;
    }
    table
};
const DROP: u8 = 0;
const SPECIAL: u8 = 0xFF;

/// Walks `hay[pos..end]` (`last_end`: the end of the last kept character before `pos`), handing
/// every skeleton byte to `sink`.
fn walk<S: Sink>(hay: &str, mut pos: usize, end: usize, mut last_end: Option<usize>, sink: &mut S) {
    let bytes = &hay.as_bytes()[..end];
    while pos < end {
        match step(hay, bytes, pos, &mut last_end, sink) {
            Some(next) => pos = next,
            None => return,
        }
    }
}

/// Walks the one character at `pos` of `bytes` (`hay[..end]`); returns where the next one starts,
/// or `None` when the sink stopped the walk.
#[inline]
fn step<S: Sink>(
    hay: &str,
    bytes: &[u8],
    pos: usize,
    last_end: &mut Option<usize>,
    sink: &mut S,
) -> Option<usize> {
    let (kept, len) = match ASCII_CLASS[usize::from(bytes[pos])] {
        DROP => return Some(pos + 1),
        SPECIAL => classify(hay, bytes, pos),
        ascii => (Some(char::from(ascii)), 1),
    };
    if let Some(c) = kept {
        if !sink.char_start(pos, *last_end) {
            return None;
        }
        if last_end.is_some_and(|l| pos - l > MAX_GAP) {
            sink.byte(BREAK, pos, pos);
        }
        if c.is_ascii() {
            sink.byte(c as u8, pos, pos + len);
        } else {
            let mut utf8 = [0u8; 4];
            for &u in c.encode_utf8(&mut utf8).as_bytes() {
                sink.byte(u, pos, pos + len);
            }
        }
        *last_end = Some(pos + len);
    }
    Some(pos + len)
}

/// The most haystack bytes one run of [`Skeleton::build`]'s fast path covers (it leaves a restart
/// point at the start of each).
const RUN: usize = MARK_EVERY;

/// Builds the text and the restart points.
///
/// `text` is sized up front to the most bytes a skeleton of the input can have and written by
/// index (`len` bytes are written); the caller cuts it to `len` at the end.
struct Builder<'a> {
    text: &'a mut [u8],
    len: usize,
    marks: &'a mut Vec<Mark>,
    next_mark: usize,
}

impl Sink for Builder<'_> {
    #[inline]
    fn char_start(&mut self, pos: usize, last_end: Option<usize>) -> bool {
        if self.len >= self.next_mark {
            self.marks.push(Mark {
                index: self.len,
                pos,
                last_end,
            });
            self.next_mark = self.len + MARK_EVERY;
        }
        true
    }

    #[inline]
    fn byte(&mut self, b: u8, _: usize, _: usize) {
        debug_assert!(self.len < self.text.len(), "the skeleton outgrew its bound");
        if let Some(slot) = self.text.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }
}

/// Replays from a restart point, counting bytes.
struct Locator<F: FnMut(usize, usize, usize) -> bool> {
    index: usize,
    /// Called with `(index, start, end)` of each byte; `false` stops at the next character.
    on_byte: F,
    done: bool,
}

impl<F: FnMut(usize, usize, usize) -> bool> Sink for Locator<F> {
    fn char_start(&mut self, _: usize, _: Option<usize>) -> bool {
        !self.done
    }

    fn byte(&mut self, _: u8, start: usize, end: usize) {
        if !self.done && !(self.on_byte)(self.index, start, end) {
            self.done = true;
        }
        self.index += 1;
    }
}

impl Skeleton {
    /// Rebuilds the skeleton of `hay[start..end]` (both on character boundaries; `hay` shorter
    /// than 4 GiB).
    pub fn build(&mut self, hay: &str, start: usize, end: usize) {
        self.text.clear();
        self.marks.clear();
        self.end = end;
        // A kept character is never longer in the skeleton than in the text; a `BREAK` stands
        // for more than `MAX_GAP` bytes.
        let input = end.saturating_sub(start);
        self.text.resize(input + input / MAX_GAP + 1, DROP);
        let mut builder = Builder {
            text: &mut self.text,
            len: 0,
            marks: &mut self.marks,
            next_mark: 0,
        };
        let bytes = &hay.as_bytes()[..end];
        let mut pos = start;
        let mut last_end = None;
        while pos < end {
            let first = ASCII_CLASS[usize::from(bytes[pos])];
            if first == DROP {
                pos += 1;
                continue;
            }
            // Fast path: from a kept ASCII byte, a run of plain ASCII (up to `RUN` bytes) whose
            // kept bytes are copied without branching on each. It stops early at a byte that
            // needs a closer look, or once a gap grows long enough to need a `BREAK`: the walk
            // below handles those exactly.
            if first != SPECIAL && last_end.is_none_or(|l| pos - l <= MAX_GAP) {
                builder.char_start(pos, last_end);
                let limit = end.min(pos + RUN);
                let at = builder.len;
                let Some(out) = builder.text.get_mut(at..at + (limit - pos)) else {
                    debug_assert!(false, "the skeleton outgrew its bound");
                    break;
                };
                let (n, last_kept, i) = ascii_run(hay, pos, limit, out);
                builder.len = at + n;
                last_end = Some(last_kept + 1);
                pos = i;
                continue;
            }
            // Fast path: a run of non-ASCII letters and digits (CJK, Cyrillic, accented
            // letters; up to `RUN` bytes), each kept as it is, copied at once.
            if bytes[pos] >= 0x80 && last_end.is_none_or(|l| pos - l <= MAX_GAP) {
                let cut = hay.floor_char_boundary(end.min(pos + RUN));
                let run = alphanumeric_run(&hay[pos..cut]);
                if run > 0 {
                    builder.char_start(pos, last_end);
                    for &b in &bytes[pos..pos + run] {
                        builder.byte(b, pos, pos + run);
                    }
                    last_end = Some(pos + run);
                    pos += run;
                    continue;
                }
            }
            match step(hay, bytes, pos, &mut last_end, &mut builder) {
                Some(next) => pos = next,
                None => break,
            }
        }
        let len = builder.len;
        self.text.truncate(len);
    }

    /// The restart point at or before skeleton byte `index`.
    fn mark_before_index(&self, index: usize) -> Option<Mark> {
        let i = self.marks.partition_point(|m| m.index <= index);
        self.marks.get(i.checked_sub(1)?).copied()
    }

    /// Replays the walk of `hay` (the haystack the skeleton was built from) from `mark`.
    fn replay(&self, hay: &str, mark: Mark, on_byte: impl FnMut(usize, usize, usize) -> bool) {
        let mut locator = Locator {
            index: mark.index,
            on_byte,
            done: false,
        };
        walk(hay, mark.pos, self.end, mark.last_end, &mut locator);
    }

    /// The first skeleton byte that comes from haystack offset `offset` or later (`text.len()`
    /// if none).
    pub fn index_at(&self, hay: &str, offset: usize) -> usize {
        let i = self.marks.partition_point(|m| m.pos <= offset);
        let Some(&mark) = self.marks.get(i.wrapping_sub(1)) else {
            // Every kept character starts after `offset`.
            return 0;
        };
        let mut found = self.text.len();
        self.replay(hay, mark, |index, start, _| {
            if start >= offset {
                found = index;
                return false;
            }
            true
        });
        found.min(self.text.len())
    }

    /// The haystack range of skeleton bytes `s..e` (`s < e <= text.len()`) of `hay`, the
    /// haystack the skeleton was built from.
    pub fn span(&self, hay: &str, s: usize, e: usize) -> (usize, usize) {
        let Some(mark) = self.mark_before_index(s) else {
            return (0, 0);
        };
        let (mut from, mut to) = (0, 0);
        self.replay(hay, mark, |index, start, end| {
            if index == s {
                from = start;
            }
            if index + 1 == e {
                to = end;
                return false;
            }
            true
        });
        (from, to)
    }
}

/// Copies the kept characters of the run at `hay[pos..limit]` (`hay[pos]` is a kept ASCII byte)
/// to `out` (at least `limit - pos` bytes long): ASCII bytes as [`ASCII_CLASS`] has them, other
/// letters and digits as they are. Stops before an escape, a character reference or a tag (the
/// ASCII bytes [`classify`] looks at), a character that `limit` cuts, or the end of a gap of more
/// than [`MAX_GAP`] bytes. Returns how many bytes it wrote, where the last kept byte is and where
/// it stopped.
#[inline]
fn ascii_run(hay: &str, pos: usize, limit: usize, out: &mut [u8]) -> (usize, usize, usize) {
    let bytes = hay.as_bytes();
    let (mut n, mut last_kept, mut i) = (0, pos, pos);
    while i < limit {
        // Whole words first; they stop at a word with a byte that needs a closer look, or where
        // a gap could grow past `MAX_GAP`. The bytes after are taken one at a time, for at most a
        // word, before words are tried again.
        let (read, written, kept_word) = plain_words(
            bytes.get(i..limit).unwrap_or_default(),
            out.get_mut(n..).unwrap_or_default(),
            i - last_kept,
        );
        i += read;
        n += written;
        if let Some(word) = kept_word {
            // The last kept byte of the last word that kept one.
            let word = i - read + word;
            let back = bytes[word..word + 8]
                .iter()
                .rev()
                .position(|&b| ASCII_CLASS[usize::from(b)] != DROP);
            last_kept = word + 7 - back.unwrap_or(7);
        }
        let one_by_one = limit.min(i + 8);
        while i < one_by_one {
            let c = ASCII_CLASS[usize::from(bytes[i])];
            if i - last_kept > MAX_GAP {
                return (n, last_kept, i);
            }
            if c == SPECIAL {
                // Escapes, references and tags are left to the walk. A non-ASCII character is
                // kept as it is or dropped without leaving the run.
                if bytes[i].is_ascii() {
                    return (n, last_kept, i);
                }
                let (kept, len) = non_ascii(hay, i);
                if i + len > limit {
                    return (n, last_kept, i);
                }
                if kept.is_some() {
                    let Some(slot) = out.get_mut(n..n + len) else {
                        return (n, last_kept, i);
                    };
                    slot.copy_from_slice(&bytes[i..i + len]);
                    n += len;
                    last_kept = i + len - 1;
                }
                i += len;
                continue;
            }
            let Some(slot) = out.get_mut(n) else {
                return (n, last_kept, i);
            };
            *slot = c;
            let kept = c != DROP;
            n += usize::from(kept);
            last_kept = if kept { i } else { last_kept };
            i += 1;
        }
    }
    (n, last_kept, i)
}

/// Copies the kept bytes of `input`'s leading whole words (eight bytes) to `out`, each as
/// [`ASCII_CLASS`] has it, up to the first word with a byte that needs [`classify`] or where a
/// gap could grow past [`MAX_GAP`] (the last kept byte being `gap` bytes before `input`).
/// Returns the bytes read and written, and where the last word that kept a byte starts.
#[inline]
fn plain_words(input: &[u8], out: &mut [u8], gap: usize) -> (usize, usize, Option<usize>) {
    let (mut read, mut written) = (0, 0);
    let mut kept_word = None;
    // A lower bound of the distance from the last kept byte to the next word's start.
    let mut since_kept = gap;
    for word in input.chunks_exact(8) {
        if since_kept + 7 > MAX_GAP {
            break;
        }
        let Some(dst) = out.get_mut(written..written + 8) else {
            break;
        };
        let (mut m, mut any) = (0, 0);
        for &b in word {
            let c = ASCII_CLASS[usize::from(b)];
            // `m` counts the bytes kept so far, fewer than 8: the mask only spares a bounds
            // check. Bytes are written before it is known whether one needs a closer look.
            dst[m & 7] = c;
            any |= c;
            m += usize::from(c != DROP);
        }
        // Only `SPECIAL` has the high bit set.
        if any & 0x80 != 0 {
            break;
        }
        written += m;
        // Whether or not the word kept a byte, the distance from the last kept one grows by at
        // most 8 (exactly 8 if it kept none); counted from the word's start if it kept one.
        (kept_word, since_kept) = if m > 0 {
            (Some(read), 8)
        } else {
            (kept_word, since_kept + 8)
        };
        read += 8;
    }
    (read, written, kept_word)
}

/// The length of the run of non-ASCII alphanumeric characters that `s` starts with.
fn alphanumeric_run(s: &str) -> usize {
    s.char_indices()
        .find(|&(_, c)| c.is_ascii() || !is_alphanumeric(c))
        .map_or(s.len(), |(i, _)| i)
}

/// What the character at `i` contributes (if kept) and how many bytes it covers: escapes,
/// character references, tags and non-ASCII characters (the bytes `ASCII_CLASS` calls
/// [`SPECIAL`]).
fn classify(hay: &str, bytes: &[u8], i: usize) -> (Option<char>, usize) {
    let b = bytes[i];
    match b {
        b'%' => {
            if let Some(v) = hex_pair(bytes.get(i + 1..i + 3)) {
                return (keep_ascii(v), 3);
            }
            (None, 1)
        }
        b'&' => match char_reference(&bytes[i..bytes.len().min(i + MAX_TOKEN)]) {
            Some((c, len)) => (keep(c), len),
            None => (None, 1),
        },
        b'<' => {
            let mut j = i + 1;
            if bytes.get(j) == Some(&b'/') {
                j += 1;
            }
            let name = bytes[j.min(bytes.len())..]
                .iter()
                .take(MAX_TOKEN - 2)
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            let is_tag = bytes.get(j).is_some_and(u8::is_ascii_alphabetic);
            (None, if is_tag { j + name - i } else { 1 })
        }
        b'\\' => match bytes.get(i + 1) {
            Some(b'x') => match hex_pair(bytes.get(i + 2..i + 4)) {
                Some(v) => (keep_ascii(v), 4),
                None => (None, 1),
            },
            Some(b'u') => match (
                hex_pair(bytes.get(i + 2..i + 4)),
                hex_pair(bytes.get(i + 4..i + 6)),
            ) {
                (Some(0), Some(v)) => (keep_ascii(v), 6),
                _ => (None, 1),
            },
            _ => (None, 1),
        },
        // `step` classifies every other ASCII byte by the table alone.
        _ if b.is_ascii() => match ASCII_CLASS[usize::from(b)] {
            DROP | SPECIAL => (None, 1),
            kept => (Some(char::from(kept)), 1),
        },
        _ => non_ascii(hay, i),
    }
}

/// What the non-ASCII character at `hay[i..]` contributes and how many bytes it covers: itself
/// if it is a letter or a digit, nothing otherwise.
#[inline]
fn non_ascii(hay: &str, i: usize) -> (Option<char>, usize) {
    let c = hay[i..].chars().next().unwrap_or(' ');
    (is_alphanumeric(c).then_some(c), c.len_utf8())
}

fn keep_ascii(b: u8) -> Option<char> {
    b.is_ascii_alphanumeric()
        .then(|| char::from(fold_leet(b.to_ascii_lowercase())))
}

fn keep(c: char) -> Option<char> {
    if c.is_ascii() {
        keep_ascii(c as u8)
    } else {
        None
    }
}

fn hex_pair(p: Option<&[u8]>) -> Option<u8> {
    let p = p?;
    let hi = char::from(p[0]).to_digit(16)?;
    let lo = char::from(p[1]).to_digit(16)?;
    u8::try_from(hi * 16 + lo).ok()
}

/// A character reference at the start of `s` (`&#105;`, `&#x69;`, `&lt;`...): the character and
/// the reference's length.
fn char_reference(s: &[u8]) -> Option<(char, usize)> {
    let semi = s.iter().position(|&b| b == b';')?;
    let body = std::str::from_utf8(&s[1..semi]).ok()?;
    let c = if let Some(num) = body.strip_prefix('#') {
        let v = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        char::from_u32(v)?
    } else {
        match body {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => ' ',
            _ => return None,
        }
    };
    Some((c, semi + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skel(s: &str) -> String {
        let mut k = Skeleton::default();
        k.build(s, 0, s.len());
        String::from_utf8(k.text).expect("utf-8")
    }

    #[test]
    fn drops_separators_markup_and_decodes_escapes() {
        assert_eq!(skel("i g n-o.r_e"), "ignore");
        assert_eq!(skel("<b>ig</b>nore **now**"), "ignorenow");
        assert_eq!(skel("&#105;&#x67;n&amp;ore"), "ignore");
        assert_eq!(skel("ign%6Fre%20all"), "ignoreaii");
        assert_eq!(skel("p@$$ 1337"), "passieet");
        assert_eq!(skel("a<3b"), "aeb");
        assert_eq!(skel("1gn0r3 L33T %31"), "ignoreieeti");
        assert_eq!(skel(r"\x69\u0067nore \n"), "ignoren");
    }

    /// Every byte with its range, the way the walk produces them.
    #[derive(Default)]
    struct Full {
        text: Vec<u8>,
        ranges: Vec<(usize, usize)>,
    }

    impl Sink for Full {
        fn char_start(&mut self, _: usize, _: Option<usize>) -> bool {
            true
        }
        fn byte(&mut self, b: u8, start: usize, end: usize) {
            self.text.push(b);
            self.ranges.push((start, end));
        }
    }

    proptest::proptest! {
        #[test]
        fn replayed_offsets_equal_a_full_walk(
            hay in crate::text_of(
                &[
                    "a", "B", "7", " ", "\n", "-", "&#105;", "&amp;", "%6F", "%2", "<b>", "</i>",
                    "\\x41", "\\u0067", "é", "\u{1F642}", "ж", "@", "$", "          ", "\t\t",
                    "中文", "Привет", "\u{301}",
                ],
                400,
            ),
            skip in 0usize..40,
        ) {
            let start = hay.floor_char_boundary(skip);
            let mut full = Full::default();
            walk(&hay, start, hay.len(), None, &mut full);
            let mut k = Skeleton::default();
            k.build(&hay, start, hay.len());
            proptest::prop_assert_eq!(&k.text, &full.text);
            for offset in start..=hay.len() {
                let want = full.ranges.partition_point(|r| r.0 < offset);
                proptest::prop_assert_eq!(k.index_at(&hay, offset), want, "offset {}", offset);
            }
            let n = full.text.len();
            for s in (0..n).step_by(7) {
                for e in [s + 1, (s + 13).min(n), n] {
                    let want = (full.ranges[s].0, full.ranges[e - 1].1);
                    proptest::prop_assert_eq!(k.span(&hay, s, e), want);
                }
            }
        }
    }

    #[test]
    fn keeps_letters_and_digits_of_every_script() {
        assert_eq!(
            skel("Résumé: café, naïve × façade"),
            "résumécafénaïvefaçade"
        );
        assert_eq!(skel("Привет — 中文 «٣» 🙂 ok"), "Привет中文٣ok");
    }

    #[test]
    fn long_gaps_break_and_spans_map_back() {
        let s = format!("ab{}cd", " ".repeat(MAX_GAP + 1));
        assert_eq!(skel(&s), "ab#cd");
        let mut k = Skeleton::default();
        k.build("x &#105; y", 0, 10);
        assert_eq!(k.text, b"xiy");
        assert_eq!(k.span("x &#105; y", 1, 2), (2, 8));
    }
}

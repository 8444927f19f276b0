//! The *skeleton* of a text: only its letters and digits (and the leetspeak symbols `@` and `$`),
//! with URL escapes (`%69`), string escapes (`\x69`, `\u0069`) and HTML character references
//! (`&#105;`, `&#x69;`, `&amp;`) decoded
//! and HTML tag names (`<b>`, `</span>`) dropped. Every skeleton byte remembers the range of the
//! haystack it came from, so a match in the skeleton maps back to the text.
//!
//! Whether a haystack character is kept, and what it becomes, depends on at most
//! [`LOOK_BEHIND`] bytes before it and [`LOOK_AHEAD`] bytes after it; a run of more than
//! [`MAX_GAP`] dropped bytes between two kept characters becomes a [`BREAK`] that no phrase
//! crosses. Together these keep the obfuscated-phrase detector local and bounded.

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

/// A skeleton under construction (reused between calls).
#[derive(Debug, Default)]
pub struct Skeleton {
    /// The skeleton text (UTF-8): lower-case ASCII letters, digits, `@`, `$`, [`BREAK`] and any
    /// other alphanumeric character as is.
    pub text: Vec<u8>,
    /// For each byte of `text`, the haystack offset where the character it came from starts.
    pub starts: Vec<u32>,
    /// For each byte of `text`, the haystack offset where that character ends.
    pub ends: Vec<u32>,
}

impl Skeleton {
    /// Rebuilds the skeleton of `hay[start..end]` (both on character boundaries; `hay` shorter
    /// than 4 GiB).
    pub fn build(&mut self, hay: &str, start: usize, end: usize) {
        self.text.clear();
        self.starts.clear();
        self.ends.clear();
        let bytes = &hay.as_bytes()[..end];
        let mut i = start;
        let mut last_end: Option<usize> = None;
        while i < end {
            let b = bytes[i];
            // Fast path: a plain ASCII letter or digit.
            let (kept, len) = if b.is_ascii_alphanumeric() {
                (Some(char::from(b.to_ascii_lowercase())), 1)
            } else if b.is_ascii_whitespace() {
                (None, 1)
            } else {
                classify(hay, bytes, i)
            };
            if let Some(c) = kept {
                if last_end.is_some_and(|l| i - l > MAX_GAP) {
                    self.push_byte(BREAK, i, i);
                }
                if c.is_ascii() {
                    self.push_byte(c as u8, i, i + len);
                } else {
                    let mut utf8 = [0u8; 4];
                    for &u in c.encode_utf8(&mut utf8).as_bytes() {
                        self.push_byte(u, i, i + len);
                    }
                }
                last_end = Some(i + len);
            }
            i += len;
        }
    }

    fn push_byte(&mut self, b: u8, start: usize, end: usize) {
        self.text.push(b);
        self.starts.push(u32::try_from(start).unwrap_or(u32::MAX));
        self.ends.push(u32::try_from(end).unwrap_or(u32::MAX));
    }

    /// The haystack range of skeleton bytes `s..e` (`s < e <= text.len()`).
    pub fn span(&self, s: usize, e: usize) -> (usize, usize) {
        (self.starts[s] as usize, self.ends[e - 1] as usize)
    }
}

/// What the character at `i` contributes (if kept) and how many bytes it covers.
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
        b'@' | b'$' => (Some(char::from(b)), 1),
        _ if b.is_ascii() => (keep_ascii(b), 1),
        _ => {
            let c = hay[i..].chars().next().unwrap_or(' ');
            (c.is_alphanumeric().then_some(c), c.len_utf8())
        }
    }
}

fn keep_ascii(b: u8) -> Option<char> {
    b.is_ascii_alphanumeric()
        .then(|| char::from(b.to_ascii_lowercase()))
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
        assert_eq!(skel("ign%6Fre%20all"), "ignoreall");
        assert_eq!(skel("p@$$ 1337"), "p@$$1337");
        assert_eq!(skel("a<3b"), "a3b");
        assert_eq!(skel(r"\x69\u0067nore \n"), "ignoren");
    }

    #[test]
    fn long_gaps_break_and_spans_map_back() {
        let s = format!("ab{}cd", " ".repeat(MAX_GAP + 1));
        assert_eq!(skel(&s), "ab#cd");
        let mut k = Skeleton::default();
        k.build("x &#105; y", 0, 10);
        assert_eq!(k.text, b"xiy");
        assert_eq!(k.span(1, 2), (2, 8));
    }
}

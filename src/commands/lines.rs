//! Bounded line reading for the commands that read standard input (`scan`, `chat`): a line is
//! held in memory only up to a limit, so a 10 GB line without a newline cannot exhaust memory.

use std::io::BufRead;

/// One input line, or the length of one that was over the limit.
pub(crate) enum Line {
    /// The line's bytes, without its `\n` (not yet checked for UTF-8).
    Read(Vec<u8>),
    /// A line over the limit, consumed and dropped: its length in bytes.
    TooLong(usize),
}

impl Line {
    /// Bytes this line holds in memory.
    pub(crate) fn held_bytes(&self) -> usize {
        match self {
            Line::Read(bytes) => bytes.len(),
            Line::TooLong(_) => 0,
        }
    }
}

/// Reads the next line (without its `\n`), keeping at most `max` bytes of it in memory: a longer
/// line is consumed to its end and reported by its length. `None` at the end of the input.
pub(crate) fn read_line(reader: &mut impl BufRead, max: usize) -> std::io::Result<Option<Line>> {
    let mut line = Vec::new();
    let mut total = 0usize;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok((total > 0).then(|| finish(line, total, max)));
        }
        let (take, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        if total + take <= max {
            line.extend_from_slice(&buf[..take]);
        } else {
            line = Vec::new();
        }
        total += take;
        reader.consume(take + usize::from(done));
        if done {
            return Ok(Some(finish(line, total, max)));
        }
    }
}

fn finish(line: Vec<u8>, total: usize, max: usize) -> Line {
    if total > max {
        Line::TooLong(total)
    } else {
        Line::Read(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_dropped_and_measured() {
        let mut input = &b"short\nthis one is long\n\nlast"[..];
        let mut got = Vec::new();
        while let Some(line) = read_line(&mut input, 8).expect("reads") {
            got.push(match line {
                Line::Read(b) => String::from_utf8(b).expect("utf-8"),
                Line::TooLong(n) => format!("<{n}>"),
            });
        }
        assert_eq!(got, ["short", "<16>", "", "last"]);
    }
}

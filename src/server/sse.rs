//! Server-sent events: framing what we send and splitting what an upstream sends.

use bytes::Bytes;

/// One `data:` frame.
pub(crate) fn frame(json: &serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {json}\n\n"))
}

/// The terminating frame.
pub(crate) fn done_frame() -> Bytes {
    Bytes::from_static(b"data: [DONE]\n\n")
}

/// Largest event an upstream may send (protects memory against a broken upstream).
pub(crate) const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Splits a byte stream into the `data` payloads of its events.
#[derive(Default)]
pub(crate) struct SseDecoder {
    buffer: Vec<u8>,
    data: String,
}

/// Why an upstream stream could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SseError {
    TooLarge,
    NotUtf8,
}

impl SseDecoder {
    /// Adds bytes; returns the payloads of the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, SseError> {
        self.buffer.extend_from_slice(bytes);
        let mut payloads = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = std::str::from_utf8(&line).map_err(|_| SseError::NotUtf8)?;
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    payloads.push(std::mem::take(&mut self.data));
                }
            } else if let Some(value) = line.strip_prefix("data:") {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(value.strip_prefix(' ').unwrap_or(value));
            }
            // Comments (`:`), `event:`, `id:` and `retry:` lines carry nothing we use.
        }
        if self.buffer.len() + self.data.len() > MAX_EVENT_BYTES {
            return Err(SseError::TooLarge);
        }
        Ok(payloads)
    }

    /// The last event when the stream ends without a blank line.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buffer);
        if let Ok(line) = std::str::from_utf8(&rest)
            && let Some(value) = line.trim_end().strip_prefix("data:")
        {
            self.data.push_str(value.trim_start());
        }
        (!self.data.is_empty()).then(|| std::mem::take(&mut self.data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_events_across_any_chunking() {
        let stream = b"data: {\"a\":1}\r\n\r\n: keep-alive\n\nevent: x\ndata: one\ndata: two\n\ndata: [DONE]\n\n";
        for size in 1..stream.len() {
            let mut decoder = SseDecoder::default();
            let mut out = Vec::new();
            for chunk in stream.chunks(size) {
                out.extend(decoder.push(chunk).expect("decodes"));
            }
            assert_eq!(
                out,
                ["{\"a\":1}", "one\ntwo", "[DONE]"],
                "chunk size {size}"
            );
        }
        let mut decoder = SseDecoder::default();
        assert!(decoder.push(b"data: tail").expect("ok").is_empty());
        assert_eq!(decoder.finish().as_deref(), Some("tail"));
        assert_eq!(
            decoder.push(&vec![b'x'; MAX_EVENT_BYTES + 1]),
            Err(SseError::TooLarge)
        );
    }
}

//! The exact bytes each token contributes to decoded text (needed to reason about text across
//! token boundaries, e.g. banned phrases).

use std::collections::HashMap;

use tokenizers::Tokenizer;
use tokenizers::decoders::DecoderWrapper;

/// GPT-2's byte-to-character table (printable bytes map to themselves, the rest to U+0100..).
pub fn gpt2_bytes_to_chars() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let code = if printable {
            u32::from(b)
        } else {
            let c = next;
            next += 1;
            c
        };
        table[usize::from(b)] = char::from_u32(code).unwrap_or('\0');
    }
    table
}

fn uses_byte_level(decoder: Option<&DecoderWrapper>) -> bool {
    match decoder {
        Some(DecoderWrapper::ByteLevel(_)) => true,
        Some(DecoderWrapper::Sequence(seq)) => seq
            .get_decoders()
            .iter()
            .any(|d| matches!(d, DecoderWrapper::ByteLevel(_))),
        _ => false,
    }
}

/// Bytes of a SentencePiece-style piece: `<0xAB>` is byte 0xAB, `▁` is a space.
fn sentencepiece_bytes(piece: &str) -> Vec<u8> {
    if let Some(hex) = piece.strip_prefix("<0x").and_then(|s| s.strip_suffix('>'))
        && hex.len() == 2
        && let Ok(b) = u8::from_str_radix(hex, 16)
    {
        return vec![b];
    }
    piece.replace('\u{2581}', " ").into_bytes()
}

/// For every id in `0..vocab_size` (added tokens included), the bytes it adds to the text
/// decoded with `skip_special_tokens = true`: special tokens add nothing.
///
/// Byte-level BPE pieces are mapped back through the GPT-2 table; other vocabularies are read
/// as SentencePiece pieces (`▁` = space, `<0xAB>` byte fallback). For SentencePiece the
/// leading space a decoder strips from the very first token is kept, which only makes
/// byte-level reasoning more conservative.
pub fn token_bytes(tokenizer: &Tokenizer) -> Vec<Vec<u8>> {
    let byte_level = uses_byte_level(tokenizer.get_decoder());
    let char_to_byte: HashMap<char, u8> = gpt2_bytes_to_chars()
        .iter()
        .enumerate()
        .filter_map(|(b, &c)| u8::try_from(b).ok().map(|b| (c, b)))
        .collect();
    let added = tokenizer.get_added_vocabulary();
    let n = tokenizer.get_vocab_size(true);
    (0..n)
        .map(|id| {
            let Ok(id) = u32::try_from(id) else {
                return Vec::new();
            };
            let Some(piece) = tokenizer.id_to_token(id) else {
                return Vec::new();
            };
            if added.simple_id_to_token(id).is_some() {
                return if added.is_special_token(&piece) {
                    Vec::new()
                } else {
                    piece.into_bytes()
                };
            }
            if byte_level {
                let mapped: Option<Vec<u8>> = piece
                    .chars()
                    .map(|c| char_to_byte.get(&c).copied())
                    .collect();
                mapped.unwrap_or_else(|| piece.into_bytes())
            } else {
                sentencepiece_bytes(&piece)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_table_is_a_bijection_with_known_points() {
        let t = gpt2_bytes_to_chars();
        assert_eq!(t[usize::from(b'A')], 'A');
        assert_eq!(t[usize::from(b' ')], '\u{120}'); // Ġ
        assert_eq!(t[usize::from(b'\n')], '\u{10A}'); // Ċ
        let mut sorted: Vec<char> = t.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 256);
    }

    #[test]
    fn sentencepiece_pieces() {
        assert_eq!(sentencepiece_bytes("\u{2581}Paris"), b" Paris".to_vec());
        assert_eq!(sentencepiece_bytes("<0x0A>"), vec![b'\n']);
        assert_eq!(sentencepiece_bytes("<0xZZ>"), b"<0xZZ>".to_vec());
    }
}

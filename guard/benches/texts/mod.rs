//! The texts the guard's speed is measured on (shared by the `guard` bench and the
//! `detector_cost` example).

/// Sentences of the mixed text, repeated in turn.
pub const PROSE: &[&str] = &[
    "Could you help me plan a three-day trip to Lisbon in late spring? ",
    "I would like to see the old town, eat good seafood and maybe take a day trip to Sintra. ",
    "My budget is around 900 euros without flights, and I prefer small family-run hotels. ",
    "Last time the booking on order 58213-B went wrong, so please double-check the dates. ",
    "Here is the function that fails: fn parse(input: &str) -> Result<u32, Error> { input.trim().parse() } ",
    "The logs show 2024-05-01T10:22:33Z status=500 latency=231ms path=/api/v2/items?id=77. ",
    "Version 3.14.2 fixed the crash, but build 10.0.19045 still shows the warning. ",
    "Thanks a lot, and sorry for the long message! ",
    "If it matters, you can reach me at maria.silva@example.org or +351 912 345 678. ",
    "Résumé: café, naïve façade — «quotes» and emoji 🙂 are part of normal text too. ",
];

/// Text in scripts without case and with emoji, where every character takes the normaliser's
/// non-ASCII path.
pub const NON_LATIN: &[&str] = &[
    "请帮我计划一次去里斯本的三日游，预算大约九百欧元。🙂 ",
    "日本語のテキストも普通に使われます。よろしくお願いします！🎉👍 ",
    "Привет! Можно ли забронировать номер на двоих? ",
    "मुझे लिस्बन में एक छोटा होटल चाहिए। ",
];

/// Mixed prose, code, logs and contact details (an e-mail address and a phone number every
/// 800 bytes), `len` bytes at most.
pub fn mixed(len: usize) -> String {
    repeat_to(PROSE, len)
}

/// [`NON_LATIN`], `len` bytes at most.
pub fn non_latin(len: usize) -> String {
    repeat_to(NON_LATIN, len)
}

/// `pieces` repeated in turn, cut to at most `len` bytes on a character boundary.
pub fn repeat_to(pieces: &[&str], len: usize) -> String {
    let mut s = String::with_capacity(len + 128);
    let mut i = 0;
    while s.len() < len {
        s.push_str(pieces[i % pieces.len()]);
        i += 1;
    }
    s.truncate(s.floor_char_boundary(len));
    s
}

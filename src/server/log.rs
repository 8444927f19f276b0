//! Server log lines on stderr. Never request or response text: only
//! addresses, settings, rule ids, policy names and errors about files.

/// Writes one line.
pub(crate) fn info(message: std::fmt::Arguments<'_>) {
    eprintln!("palisade serve: {message}");
}

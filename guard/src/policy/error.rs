//! Policy loading errors.

use std::fmt;

/// Why a policy could not be loaded. Every variant names the file; syntax and validation errors
/// also give the 1-based line and column (0 when the position is unknown).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed, has unknown keys or wrong types, or a rule is invalid.
    #[error("{}", Located { file, line: *line, column: *column, message })]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line, 0 if unknown.
        line: u64,
        /// 1-based column, 0 if unknown.
        column: u64,
        /// What was wrong and what was expected.
        message: String,
    },
}

struct Located<'a> {
    file: &'a str,
    line: u64,
    column: u64,
    message: &'a str,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl PolicyError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            PolicyError::Io { file, .. } | PolicyError::Invalid { file, .. } => file,
        }
    }

    /// `(line, column)`, when known.
    pub fn position(&self) -> Option<(u64, u64)> {
        match self {
            PolicyError::Invalid { line, column, .. } if *line > 0 => Some((*line, *column)),
            _ => None,
        }
    }
}

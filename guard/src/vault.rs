//! Per-request mapping between redaction placeholders and the original text they replaced.

use std::collections::HashMap;

/// One placeholder and what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultEntry {
    /// The placeholder as it appears in text, e.g. `[EMAIL_1]`.
    pub placeholder: String,
    /// The label part, e.g. `EMAIL`.
    pub label: String,
    /// The original text that was replaced.
    pub original: String,
    /// Whether the original may be put back into the model's output for the same caller.
    pub restore: bool,
}

/// The placeholders introduced while guarding one request.
///
/// The same original under the same label always gets the same placeholder, so the model sees a
/// consistent name for a repeated value. Numbering is per label and starts at 1.
#[derive(Debug, Clone, Default)]
pub struct RedactionVault {
    entries: Vec<VaultEntry>,
    by_placeholder: HashMap<String, usize>,
    /// Entries by original text (an original may appear under several labels).
    by_original: HashMap<String, Vec<usize>>,
    counters: HashMap<String, u32>,
}

impl RedactionVault {
    /// An empty vault.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entry, in the order the placeholders were introduced.
    pub fn entries(&self) -> &[VaultEntry] {
        &self.entries
    }

    /// Number of placeholders.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no placeholder was introduced.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of a placeholder such as `[EMAIL_1]`.
    pub fn lookup(&self, placeholder: &str) -> Option<&VaultEntry> {
        self.by_placeholder
            .get(placeholder)
            .and_then(|&i| self.entries.get(i))
    }

    /// The placeholder for `original` under `label`, creating it if needed. A value seen before
    /// keeps its placeholder; `restore` becomes true if any use asked for it.
    pub fn placeholder_for(&mut self, label: &str, original: &str, restore: bool) -> &str {
        let known = self.by_original.get(original).and_then(|indices| {
            indices
                .iter()
                .copied()
                .find(|&i| self.entries.get(i).is_some_and(|e| e.label == label))
        });
        let index = match known {
            Some(i) => i,
            None => self.insert(label, original),
        };
        match self.entries.get_mut(index) {
            Some(entry) => {
                entry.restore |= restore;
                &entry.placeholder
            }
            None => "",
        }
    }

    /// Adds a new placeholder for `original` under `label`; returns its entry's index.
    fn insert(&mut self, label: &str, original: &str) -> usize {
        let counter = match self.counters.get_mut(label) {
            Some(c) => c,
            None => self.counters.entry(label.to_owned()).or_insert(0),
        };
        *counter += 1;
        let placeholder = format!("[{label}_{counter}]");
        let index = self.entries.len();
        self.by_placeholder.insert(placeholder.clone(), index);
        self.by_original
            .entry(original.to_owned())
            .or_default()
            .push(index);
        self.entries.push(VaultEntry {
            placeholder,
            label: label.to_owned(),
            original: original.to_owned(),
            restore: false,
        });
        index
    }

    /// The original of a restorable placeholder.
    pub fn restorable(&self, placeholder: &str) -> Option<&str> {
        self.lookup(placeholder)
            .filter(|e| e.restore)
            .map(|e| e.original.as_str())
    }

    /// Replaces every restorable placeholder in `text` by its original.
    pub fn restore(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('[') {
            out.push_str(&rest[..open]);
            let tail = &rest[open..];
            let close = tail
                .char_indices()
                .take(MAX_PLACEHOLDER_LEN)
                .find(|&(_, c)| c == ']')
                .map(|(i, _)| i);
            match close.and_then(|c| self.restorable(&tail[..=c]).map(|o| (c, o))) {
                Some((c, original)) => {
                    out.push_str(original);
                    rest = &tail[c + 1..];
                }
                None => {
                    out.push('[');
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The longest placeholder, in bytes, that restoration looks for.
pub const MAX_PLACEHOLDER_LEN: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_is_per_label_and_stable_for_repeats() {
        let mut v = RedactionVault::new();
        assert_eq!(v.placeholder_for("EMAIL", "a@b.co", false), "[EMAIL_1]");
        assert_eq!(v.placeholder_for("PHONE", "+1 555", true), "[PHONE_1]");
        assert_eq!(v.placeholder_for("EMAIL", "c@d.co", true), "[EMAIL_2]");
        assert_eq!(v.placeholder_for("EMAIL", "a@b.co", true), "[EMAIL_1]");
        assert_eq!(v.len(), 3);
        assert_eq!(v.restorable("[EMAIL_1]"), Some("a@b.co"));
    }

    #[test]
    fn restore_replaces_only_restorable_placeholders() {
        let mut v = RedactionVault::new();
        v.placeholder_for("EMAIL", "a@b.co", true);
        v.placeholder_for("SSN", "123-45-6789", false);
        let out = v.restore("mail [EMAIL_1] not [SSN_1] or [EMAIL_9] [x");
        assert_eq!(out, "mail a@b.co not [SSN_1] or [EMAIL_9] [x");
    }
}

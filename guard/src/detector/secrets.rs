//! The `secrets` detector: well-known credential formats and high-entropy `api_key = ...`
//! assignments.

use std::sync::Arc;

use regex_automata::meta::Regex;

use super::pattern_set::{Outcome, PatternDef, PatternSet};
use super::{Detector, char_at, secret_assignment};
use crate::normalize::ViewKind;
use crate::policy::SecretKind;

/// Shannon entropy of `s` in bits per character.
pub fn shannon_entropy(s: &str) -> f32 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[b as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f32;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f32 / n;
            -p * p.log2()
        })
        .sum()
}

fn name(kind: SecretKind) -> &'static str {
    match kind {
        SecretKind::AwsAccessKeyId => "secret.aws_access_key_id",
        SecretKind::AwsSecretAccessKey => "secret.aws_secret_access_key",
        SecretKind::GithubToken => "secret.github_token",
        SecretKind::GitlabToken => "secret.gitlab_token",
        SecretKind::SlackToken => "secret.slack_token",
        SecretKind::StripeKey => "secret.stripe_key",
        SecretKind::OpenaiKey => "secret.openai_key",
        SecretKind::Jwt => "secret.jwt",
        SecretKind::PrivateKey => "secret.private_key",
        SecretKind::GenericApiKey => "secret.generic_api_key",
    }
}

/// The token-shaped formats: `(kind, pattern)`.
fn token_patterns(kind: SecretKind) -> &'static [&'static str] {
    match kind {
        SecretKind::AwsAccessKeyId => {
            &["(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}"]
        }
        SecretKind::GithubToken => &[
            "gh[pousr]_[A-Za-z0-9]{36}",
            "github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
        ],
        SecretKind::GitlabToken => &["glpat-[A-Za-z0-9_\\-]{20}"],
        SecretKind::SlackToken => &[
            "xox[abposr]-[A-Za-z0-9\\-]{10,72}",
            "https://hooks\\.slack\\.com/services/T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24}",
        ],
        SecretKind::StripeKey => &["(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{24,99}"],
        SecretKind::OpenaiKey => &[
            "sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\\-]{40,200}",
            "sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}",
            "sk-[A-Za-z0-9]{48}",
        ],
        SecretKind::Jwt => {
            &["eyJ[A-Za-z0-9_\\-]{8,1000}\\.eyJ[A-Za-z0-9_\\-]{8,2000}\\.[A-Za-z0-9_\\-]{16,600}"]
        }
        SecretKind::AwsSecretAccessKey | SecretKind::PrivateKey | SecretKind::GenericApiKey => &[],
    }
}

const AWS_SECRET: &str = "(?i:aws)[_\\-.]?(?i:secret)[_\\-.]?(?i:access)?[_\\-.]?(?i:key)[\"']?[ \\t]{0,3}(?:=|:|=>)[ \\t]{0,3}[\"']?[A-Za-z0-9/+]{40}";

const PEM: &str = "-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----\
(?:(?:\\r?\\n[A-Za-z0-9+/=:,\\- ]{0,80}){1,120}\\r?\\n-----END (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----)?";

/// Builds the detectors of a `secrets` rule.
pub fn build(kinds: &[SecretKind], min_entropy: f32) -> Result<Vec<Box<dyn Detector>>, String> {
    let mut out: Vec<Box<dyn Detector>> = Vec::new();
    let mut names: Vec<Arc<str>> = Vec::new();
    let mut defs = Vec::new();
    let mut specific: Vec<&str> = Vec::new();
    for &k in kinds {
        let pats = token_patterns(k);
        if pats.is_empty() {
            continue;
        }
        names.push(Arc::from(name(k)));
        let idx = names.len() - 1;
        for p in pats {
            specific.push(p);
            defs.push(PatternDef::validated(p, idx, |h, s, e| {
                let before = super::char_before(h, s).is_some_and(|c| c.is_ascii_alphanumeric());
                let after = char_at(h, e).is_some_and(|c| c.is_ascii_alphanumeric());
                if before || after {
                    Outcome::Reject { resume: e }
                } else {
                    Outcome::Accept {
                        end: e,
                        span: (s, e),
                        score: 1.0,
                    }
                }
            }));
        }
    }
    if kinds.contains(&SecretKind::AwsSecretAccessKey) {
        names.push(Arc::from(name(SecretKind::AwsSecretAccessKey)));
        let idx = names.len() - 1;
        defs.push(PatternDef::validated(AWS_SECRET, idx, |h, _, e| {
            if char_at(h, e).is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '+') {
                return Outcome::Reject { resume: e };
            }
            Outcome::Accept {
                end: e,
                span: (e - 40, e),
                score: 1.0,
            }
        }));
    }
    if !defs.is_empty() {
        out.push(Box::new(PatternSet::new(
            names,
            defs,
            ViewKind::Folded,
            false,
        )?));
    }
    if kinds.contains(&SecretKind::PrivateKey) {
        let defs = vec![PatternDef::validated(PEM, 0, |_, s, e| Outcome::Accept {
            end: e,
            span: (s, e),
            score: 1.0,
        })];
        out.push(Box::new(PatternSet::new(
            vec![Arc::from(name(SecretKind::PrivateKey))],
            defs,
            ViewKind::Folded,
            false,
        )?));
    }
    if kinds.contains(&SecretKind::GenericApiKey) {
        let known = if specific.is_empty() {
            None
        } else {
            Some(Regex::new_many(&specific).map_err(|e| e.to_string())?)
        };
        out.push(Box::new(secret_assignment::build(
            name(SecretKind::GenericApiKey),
            min_entropy,
            known,
        )?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::View;

    fn found(text: &str) -> Vec<(String, String)> {
        let all = [
            SecretKind::AwsAccessKeyId,
            SecretKind::AwsSecretAccessKey,
            SecretKind::GithubToken,
            SecretKind::GitlabToken,
            SecretKind::SlackToken,
            SecretKind::StripeKey,
            SecretKind::OpenaiKey,
            SecretKind::Jwt,
            SecretKind::PrivateKey,
            SecretKind::GenericApiKey,
        ];
        let dets = build(&all, 3.5).expect("builds");
        let mut out = Vec::new();
        for d in &dets {
            let v = View::build(text, d.view());
            let hay = v.text();
            let mut from = 0;
            while let Some(c) = d.next(hay, from) {
                if c.score > 0.0 {
                    out.push((
                        d.kinds()[c.kind].to_string(),
                        hay[c.span_start..c.span_end].to_owned(),
                    ));
                }
                from = c.end;
            }
        }
        out
    }

    #[test]
    fn known_formats() {
        let cases = [
            ("secret.aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
            (
                "secret.github_token",
                "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
            ),
            ("secret.gitlab_token", "glpat-xY7zA9bC3dE5fG1hJ2kL"),
            (
                "secret.slack_token",
                "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            ),
            ("secret.stripe_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
            (
                "secret.openai_key",
                "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk",
            ),
            (
                "secret.jwt",
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            ),
        ];
        for (kind, token) in cases {
            let text = format!("use {token} here");
            let got = found(&text);
            assert!(
                got.iter().any(|(k, t)| k == kind && t == token),
                "{kind}: {got:?}"
            );
        }
    }

    #[test]
    fn aws_secret_and_generic_assignments() {
        let got = found("aws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"");
        assert_eq!(
            got,
            vec![(
                "secret.aws_secret_access_key".into(),
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()
            )]
        );
        let got = found("API_KEY=9f8Kq2LmZ7xR4tW1vB6nC3pD");
        assert_eq!(
            got,
            vec![(
                "secret.generic_api_key".into(),
                "9f8Kq2LmZ7xR4tW1vB6nC3pD".into()
            )]
        );
        assert!(found("password: hunter2hunter2").is_empty());
        assert!(found("api_key = your_api_key_here").is_empty());
    }

    #[test]
    fn pem_block_is_one_finding() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234abcd\nQWERTYuiop5678==\n-----END RSA PRIVATE KEY-----";
        let got = found(&format!("key:\n{pem}\nbye"));
        assert_eq!(got, vec![("secret.private_key".into(), pem.into())]);
    }

    #[test]
    fn entropy() {
        assert!(shannon_entropy("aaaa") < 0.01);
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-5);
    }
}

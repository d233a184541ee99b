//! A guardrail policy compiled once per snapshot: every pattern of its detectors in one
//! `RegexSet`, so a text is scanned once to learn which detectors fire, plus each pattern on its
//! own to locate the matches of only those; and all deny words in one Aho-Corasick automaton.

use std::fmt;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use switchyard_shared::guardrails::{DetectorType, GuardrailAction, GuardrailMode, GuardrailSpec};
use switchyard_shared::validate::{
    MAX_DETECTORS, MAX_PATTERN_COMPILED_BYTES, detector_label, validate_guardrail,
};

use super::validate;

/// The built-in detectors' patterns. They use ASCII classes and ASCII word boundaries
/// (`(?-u:\b)`): Unicode word boundaries would make the regex engine leave its fast DFA on any
/// non-ASCII text, and an ASCII boundary also lets `电话13812345678` be found. Validators do
/// what a pattern cannot (checksums, what surrounds a value).
fn builtin_pattern(kind: DetectorType) -> Option<&'static str> {
    Some(match kind {
        DetectorType::Email => {
            r"[A-Za-z0-9_%+-][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
        }
        DetectorType::Phone => {
            r"\+[1-9](?:[ ().-]{0,2}[0-9]){8,16}|1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}"
        }
        DetectorType::CreditCard => r"(?-u:\b)[0-9](?:[ -]?[0-9]){12,18}(?-u:\b)",
        DetectorType::Iban => {
            r"(?-u:\b)[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?-u:\b)"
        }
        DetectorType::CnResidentId => r"(?-u:\b)[1-9][0-9]{16}[0-9Xx](?-u:\b)",
        DetectorType::UsSsn => {
            r"(?-u:\b)(?:[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4})(?-u:\b)"
        }
        DetectorType::IpAddress => concat!(
            r"(?-u:\b)[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?-u:\b)",
            r"|(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{1,4})?",
        ),
        DetectorType::Secret => concat!(
            r"(?-u:\b)(?:sk-[A-Za-z0-9_-]{20,}|A[KS]IA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}",
            r"|github_pat_[A-Za-z0-9_]{22,}|sy-[0-9A-Za-z]{30,}|xox[abprs]-[0-9A-Za-z-]{10,}",
            r"|AIza[0-9A-Za-z_-]{35})(?-u:\b)",
        ),
        DetectorType::Regex | DetectorType::DenyWords => return None,
    })
}

/// One detector of a compiled policy.
pub(super) struct Detector {
    pub kind: DetectorType,
    pub action: GuardrailAction,
    /// The name hits are reported under and masks show (`EMAIL`).
    pub label: String,
}

/// A validated match: a byte span of the scanned text and the index of the detector that found
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Found {
    pub start: usize,
    pub end: usize,
    pub detector: usize,
}

struct Words {
    automaton: AhoCorasick,
    /// The detector of each word, by the automaton's pattern id.
    detectors: Vec<usize>,
}

/// A compiled guardrail policy; the snapshot holds it in an `Arc` and requests only read it.
pub struct Policy {
    name: String,
    mode: GuardrailMode,
    on_response: Option<GuardrailAction>,
    detectors: Vec<Detector>,
    /// One pattern per detector that has one; `None` when no detector does.
    set: Option<RegexSet>,
    /// Each pattern of the set on its own, with its detector, by the set's pattern index.
    patterns: Vec<(Regex, usize)>,
    words: Option<Words>,
}

impl Policy {
    /// Validates and compiles a policy. The error names the policy and the failing detector (a
    /// bad pattern, an empty word list): never a request's value, since none is involved.
    pub fn compile(spec: &GuardrailSpec) -> Result<Policy, String> {
        validate_guardrail(spec).map_err(|e| format!("guardrail '{}': {e}", spec.name))?;
        let mut detectors = Vec::with_capacity(spec.detectors.len());
        let mut sources = Vec::new();
        let mut patterns = Vec::new();
        let mut words = Vec::new();
        let mut word_detectors = Vec::new();
        for (i, detector) in spec.detectors.iter().enumerate() {
            let label = detector_label(detector);
            let named = |message: String| {
                format!(
                    "guardrail '{}' detectors[{i}] ({label}): {message}",
                    spec.name
                )
            };
            let source = match detector.kind {
                DetectorType::Regex => detector.pattern.as_deref(),
                DetectorType::DenyWords => {
                    for word in &detector.words {
                        words.push(word.trim());
                        word_detectors.push(i);
                    }
                    None
                }
                kind => builtin_pattern(kind),
            };
            if let Some(source) = source {
                let regex = RegexBuilder::new(source)
                    .size_limit(MAX_PATTERN_COMPILED_BYTES)
                    .build()
                    .map_err(|e| named(format!("invalid pattern: {e}")))?;
                sources.push(source);
                patterns.push((regex, i));
            } else if detector.kind == DetectorType::Regex {
                return Err(named("a regex detector needs a pattern".into()));
            }
            detectors.push(Detector {
                kind: detector.kind,
                action: detector.action,
                label,
            });
        }
        let set = if sources.is_empty() {
            None
        } else {
            let set = RegexSetBuilder::new(&sources)
                .size_limit(MAX_DETECTORS * MAX_PATTERN_COMPILED_BYTES)
                .build()
                .map_err(|e| format!("guardrail '{}': its patterns together: {e}", spec.name))?;
            Some(set)
        };
        let words = if words.is_empty() {
            None
        } else {
            let automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&words)
                .map_err(|e| format!("guardrail '{}': its deny words: {e}", spec.name))?;
            Some(Words {
                automaton,
                detectors: word_detectors,
            })
        };
        Ok(Policy {
            name: spec.name.clone(),
            mode: spec.mode,
            on_response: spec.on_response.map(|check| check.action),
            detectors,
            set,
            patterns,
            words,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn mode(&self) -> GuardrailMode {
        self.mode
    }

    /// The action of answer checks (`mask` or `block`), if the policy checks answers.
    pub fn on_response(&self) -> Option<GuardrailAction> {
        self.on_response
    }

    pub(super) fn detector(&self, index: usize) -> &Detector {
        &self.detectors[index]
    }

    /// Appends the validated matches of every detector in `text` to `out`, in no particular
    /// order. The set scans the text once; only the patterns it reports are run again, to find
    /// where they match.
    pub(super) fn find(&self, text: &str, out: &mut Vec<Found>) {
        if text.is_empty() {
            return;
        }
        if let Some(set) = &self.set {
            for index in set.matches(text).iter() {
                let (regex, detector) = &self.patterns[index];
                let kind = self.detectors[*detector].kind;
                for m in regex.find_iter(text) {
                    if !m.is_empty() && validate::accept(kind, text, m.start(), m.end()) {
                        out.push(Found {
                            start: m.start(),
                            end: m.end(),
                            detector: *detector,
                        });
                    }
                }
            }
        }
        if let Some(words) = &self.words {
            for m in words.automaton.find_iter(text) {
                if validate::accept(DetectorType::DenyWords, text, m.start(), m.end()) {
                    out.push(Found {
                        start: m.start(),
                        end: m.end(),
                        detector: words.detectors[m.pattern().as_usize()],
                    });
                }
            }
        }
    }
}

/// Shows the policy's name, mode and detector labels: never its deny words or patterns, which
/// may themselves be confidential.
impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels: Vec<&str> = self.detectors.iter().map(|d| d.label.as_str()).collect();
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .field("detectors", &labels)
            .field("on_response", &self.on_response)
            .finish()
    }
}

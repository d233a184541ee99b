//! Tests of the detectors: each one's true and false positives, overlaps, and policy errors.

use switchyard_shared::guardrails::{
    DetectorSpec, DetectorType, GuardrailAction, GuardrailMode, GuardrailSpec,
};

use super::Policy;

pub(super) fn detector(kind: DetectorType, action: GuardrailAction) -> DetectorSpec {
    DetectorSpec {
        kind,
        action,
        label: None,
        pattern: None,
        words: Vec::new(),
    }
}

pub(super) fn spec(name: &str, detectors: Vec<DetectorSpec>) -> GuardrailSpec {
    GuardrailSpec {
        name: name.into(),
        description: String::new(),
        mode: GuardrailMode::Enforce,
        detectors,
        on_response: None,
    }
}

fn policy(kind: DetectorType) -> Policy {
    let mut detector = detector(kind, GuardrailAction::Mask);
    match kind {
        DetectorType::Regex => {
            detector.label = Some("EMPLOYEE_ID".into());
            detector.pattern = Some(r"E\d{6}".into());
        }
        DetectorType::DenyWords => detector.words = vec!["project-x".into(), "机密".into()],
        _ => {}
    }
    match Policy::compile(&spec("p", vec![detector])) {
        Ok(policy) => policy,
        Err(e) => panic!("{e}"),
    }
}

/// The values `kind` finds in `text`, in order.
fn found(kind: DetectorType, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    policy(kind).find(text, &mut out);
    out.sort_by_key(|f| f.start);
    out.iter()
        .map(|f| text[f.start..f.end].to_owned())
        .collect()
}

fn finds(kind: DetectorType, text: &str, value: &str) {
    assert_eq!(
        found(kind, text),
        vec![value.to_owned()],
        "{kind:?} in {text:?}"
    );
}

fn misses(kind: DetectorType, text: &str) {
    assert_eq!(
        found(kind, text),
        Vec::<String>::new(),
        "{kind:?} in {text:?}"
    );
}

#[test]
fn email() {
    use DetectorType::Email;
    finds(
        Email,
        "write to bob.smith+x@mail.example.co.uk.",
        "bob.smith+x@mail.example.co.uk",
    );
    finds(Email, "(alice@example.com)", "alice@example.com");
    finds(Email, "...bob@example.com", "bob@example.com");
    misses(Email, "user@localhost and @example.com");
    misses(Email, "a..b@example.com");
    misses(Email, "bob@-example.com");
}

#[test]
fn phone() {
    use DetectorType::Phone;
    finds(Phone, "call +1 415-555-2671 now", "+1 415-555-2671");
    finds(Phone, "call +1 (415) 555-2671", "+1 (415) 555-2671");
    finds(Phone, "UK +44 20 7946 0958.", "+44 20 7946 0958");
    finds(Phone, "+8613812345678", "+8613812345678");
    finds(Phone, "手机13812345678。", "13812345678");
    finds(Phone, "tel 138-1234-5678", "138-1234-5678");
    misses(Phone, "order 12345678901");
    misses(Phone, "id 213812345678 and 138123456789");
    misses(Phone, "+12345 and +1 234");
}

#[test]
fn credit_card() {
    use DetectorType::CreditCard;
    finds(
        CreditCard,
        "card 4111 1111 1111 1111 ok",
        "4111 1111 1111 1111",
    );
    finds(CreditCard, "4111-1111-1111-1111", "4111-1111-1111-1111");
    finds(CreditCard, "amex 378282246310005", "378282246310005");
    finds(CreditCard, "mc 5555555555554444.", "5555555555554444");
    // One digit off fails Luhn; a Luhn-valid number outside every network's prefixes is not a
    // card; a run of zeros passes Luhn but is not one either.
    misses(CreditCard, "card 4111 1111 1111 1112");
    misses(CreditCard, "ref 1234567812345670");
    misses(CreditCard, "0000000000000000");
    misses(CreditCard, "x4111111111111111");
}

#[test]
fn iban() {
    use DetectorType::Iban;
    finds(
        Iban,
        "IBAN GB82 WEST 1234 5698 7654 32.",
        "GB82 WEST 1234 5698 7654 32",
    );
    finds(Iban, "DE89370400440532013000", "DE89370400440532013000");
    misses(Iban, "IBAN GB82 WEST 1234 5698 7654 33");
    misses(Iban, "AB12 CDEF GHIJ");
}

#[test]
fn cn_resident_id() {
    use DetectorType::CnResidentId;
    finds(
        CnResidentId,
        "身份证11010519491231002X。",
        "11010519491231002X",
    );
    finds(CnResidentId, "id 11010519491231002x", "11010519491231002x");
    misses(CnResidentId, "id 110105194912310021");
    // A correct check digit with an impossible birth date (month 13).
    misses(CnResidentId, "110105194913310021");
}

#[test]
fn us_ssn() {
    use DetectorType::UsSsn;
    finds(UsSsn, "ssn 123-45-6789.", "123-45-6789");
    finds(UsSsn, "ssn 123 45 6789", "123 45 6789");
    for bad in [
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "123-00-4567",
        "123-45-0000",
    ] {
        misses(UsSsn, bad);
    }
    misses(UsSsn, "123-45 6789");
}

#[test]
fn ip_address() {
    use DetectorType::IpAddress;
    finds(IpAddress, "host 192.168.1.10:8080", "192.168.1.10");
    finds(
        IpAddress,
        "v6 2001:db8::8a2e:370:7334 here",
        "2001:db8::8a2e:370:7334",
    );
    finds(IpAddress, "[fe80::1]:80", "fe80::1");
    finds(IpAddress, "::ffff:192.168.1.1", "::ffff:192.168.1.1");
    misses(IpAddress, "256.1.1.1");
    misses(IpAddress, "version 1.2.3.4.5");
    misses(IpAddress, "use std::net::IpAddr; at 12:30:45; ::1");
    misses(IpAddress, "mac 00:1a:2b:3c:4d:5e");
}

#[test]
fn secret() {
    use DetectorType::Secret;
    let openai = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t";
    finds(Secret, &format!("key={openai}\n"), openai);
    let anthropic = "sk-ant-api03-Xy1Zw2Vu3Ts4Rq5Po6Nm";
    finds(Secret, &format!("\"{anthropic}\""), anthropic);
    finds(Secret, "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE");
    let github = format!(
        "ghp_{}",
        "a1B2c3D4e5".repeat(4).get(..36).unwrap_or_default()
    );
    finds(Secret, &format!("token {github} "), &github);
    let switchyard = "sy-0123456789abcdefghijABCDEFGHIJxyz123";
    finds(Secret, switchyard, switchyard);
    finds(
        Secret,
        "xoxb-123456789012-abcdefghij",
        "xoxb-123456789012-abcdefghij",
    );
    let google = format!("AIza{}", "Sy0123456789abcdefghijABCDEFGHIJ_-x");
    finds(Secret, &google, &google);
    misses(Secret, "pip install sk-learn-compatible-estimator-api");
    misses(Secret, "task-1234567890123456789012345");
    misses(Secret, "AKIA1234 and ghp_short");
}

#[test]
fn regex_and_deny_words() {
    finds(DetectorType::Regex, "employee E123456 joined", "E123456");
    finds(DetectorType::DenyWords, "about PROJECT-X.", "PROJECT-X");
    finds(DetectorType::DenyWords, "这是机密文件", "机密");
    misses(DetectorType::DenyWords, "project-xyz");
}

#[test]
fn labels_default_to_the_type() {
    let policy = policy(DetectorType::CreditCard);
    assert_eq!(policy.detector(0).label, "CREDIT_CARD");
    assert_eq!(
        self::policy(DetectorType::Regex).detector(0).label,
        "EMPLOYEE_ID"
    );
}

#[test]
fn a_bad_pattern_is_an_error_naming_the_detector() {
    let mut bad = detector(DetectorType::Regex, GuardrailAction::Mask);
    bad.label = Some("ORDER".into());
    bad.pattern = Some("O(\\d+".into());
    let spec = spec(
        "orders",
        vec![detector(DetectorType::Email, GuardrailAction::Mask), bad],
    );
    let error = Policy::compile(&spec).err().unwrap_or_default();
    assert!(error.contains("orders"), "{error}");
    assert!(error.contains("detectors[1]"), "{error}");
}

#[test]
fn policy_debug_shows_no_words_or_patterns() {
    let policy = policy(DetectorType::DenyWords);
    let debug = format!("{policy:?}");
    assert!(debug.contains("DENY_WORDS"), "{debug}");
    assert!(!debug.contains("project-x"), "{debug}");
}

//! Every built-in detector, and the custom ones, against a value it must find and a look-alike it
//! must leave alone (a card number failing Luhn, a resident id with a wrong check digit, an IBAN
//! failing mod-97, ...), seen through the `mask` action in what reaches the provider.

use serde_json::json;

use super::{chat, guarded_setup, hit, hits, received_text, request_id, send};

/// One detector's case: its label, a value it must mask, and a look-alike it must not.
struct Case {
    label: &'static str,
    found: &'static str,
    spared: &'static str,
}

const CASES: &[Case] = &[
    Case {
        label: "EMAIL",
        found: "jane.doe@example.com",
        spared: "jane.doe@example",
    },
    Case {
        label: "PHONE",
        found: "+44 20 7946 0958",
        spared: "+44 20 79",
    },
    // A mainland-China mobile number, and one digit too many.
    Case {
        label: "PHONE",
        found: "13812345678",
        spared: "138123456789",
    },
    // A Visa test number passes Luhn; changing its last digit fails it.
    Case {
        label: "CREDIT_CARD",
        found: "4111 1111 1111 1111",
        spared: "4111 1111 1111 1112",
    },
    Case {
        label: "CREDIT_CARD",
        found: "5555555555554444",
        spared: "5555555555554445",
    },
    // The IBAN standard's example passes mod-97; changing its last digit fails it.
    Case {
        label: "IBAN",
        found: "GB82 WEST 1234 5698 7654 32",
        spared: "GB82 WEST 1234 5698 7654 33",
    },
    Case {
        label: "IBAN",
        found: "NL91ABNA0417164300",
        spared: "NL91ABNA0417164301",
    },
    // The check character of 11010519491231002 is X; 1 is wrong.
    Case {
        label: "CN_RESIDENT_ID",
        found: "11010519491231002X",
        spared: "110105194912310021",
    },
    Case {
        label: "CN_RESIDENT_ID",
        found: "440306199003071232",
        spared: "440306199003071233",
    },
    // Area 666 is never issued.
    Case {
        label: "US_SSN",
        found: "123-45-6789",
        spared: "666-45-6789",
    },
    Case {
        label: "IP_ADDRESS",
        found: "192.168.10.25",
        spared: "999.168.10.25",
    },
    // A version number is a dotted run of digits, not an address.
    Case {
        label: "IP_ADDRESS",
        found: "2001:db8::8a2e:370:7334",
        spared: "1.2.3.4.5",
    },
    Case {
        label: "SECRET",
        found: "sk-proj-abc123DEF456ghi789JKL0",
        spared: "sk-learn-preprocessing-pipeline",
    },
    Case {
        label: "SECRET",
        found: "AKIAIOSFODNN7EXAMPLE",
        spared: "AKIA-not-a-key-at-all",
    },
    Case {
        label: "SECRET",
        found: "ghp_0123456789abcdefghijABCDEFGHIJ012345",
        spared: "ghp_short",
    },
    Case {
        label: "EMPLOYEE_ID",
        found: "E123456",
        spared: "E12345",
    },
    Case {
        label: "DENY_WORDS",
        found: "project-x",
        spared: "project-xyz",
    },
];

/// A policy with every detector type, each masking.
fn every_detector() -> serde_json::Value {
    let builtin = [
        "email",
        "phone",
        "credit_card",
        "iban",
        "cn_resident_id",
        "us_ssn",
        "ip_address",
        "secret",
    ];
    let mut detectors: Vec<serde_json::Value> = builtin
        .iter()
        .map(|kind| json!({"type": kind, "action": "mask"}))
        .collect();
    detectors.push(
        json!({"type": "regex", "label": "EMPLOYEE_ID", "pattern": "E\\d{6}", "action": "mask"}),
    );
    detectors.push(json!({"type": "deny_words", "words": ["project-x"], "action": "mask"}));
    json!({"name": "detect", "mode": "enforce", "detectors": detectors})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_detector_masks_real_values_and_spares_look_alikes() {
    let route = json!({"guardrails": ["detect"]});
    let (gateway, mock) = guarded_setup(&[every_detector()], route).await;
    let mut failures = Vec::new();
    for case in CASES {
        let text = format!("Keep {} apart from {} please", case.found, case.spared);
        let response = send(&gateway, &chat(&text), &[]).await;
        if response.status != 200 {
            failures.push(format!(
                "{}: status {} {}",
                case.label,
                response.status,
                response.text()
            ));
            continue;
        }
        let expected = format!("Keep [{}] apart from {} please", case.label, case.spared);
        let received = received_text(&mock);
        if received != expected {
            failures.push(format!(
                "{}: the provider got {received:?}, not {expected:?}",
                case.label
            ));
        }
        let log = gateway.wait_log(&request_id(&response)).await;
        let want = vec![hit("detect", case.label, "mask", 1, "request")];
        if hits(&log) != want {
            failures.push(format!(
                "{}: recorded {:?}, not {want:?}",
                case.label,
                hits(&log)
            ));
        }
    }
    assert_eq!(mock.request_count(), CASES.len(), "{failures:#?}");
    assert!(
        failures.is_empty(),
        "detector mismatches:\n{}",
        failures.join("\n")
    );
}

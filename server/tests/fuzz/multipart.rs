//! The `multipart/form-data` peek (audio transcriptions): any bytes, and forms built part by
//! part, whose model must be found where it is and rewritten in place.

use bytes::Bytes;
use proptest::prelude::*;
use switchyard::proxy::ProxyError;
use switchyard::proxy::request::{peek_multipart, with_model};

use crate::{config, string};

/// One part of a form: its name, a file name if it is a file, and its value.
#[derive(Clone, Debug)]
struct Part {
    name: String,
    filename: Option<String>,
    value: Vec<u8>,
}

fn part() -> impl Strategy<Value = Part> {
    let name = prop_oneof![
        4 => proptest::sample::select(&["model", "stream", "file", "language", "model"][..])
            .prop_map(str::to_owned),
        1 => "[a-z_]{0,8}",
    ];
    let value = prop_oneof![
        4 => proptest::sample::select(&["whisper-1", " gpt-4o-transcribe \r\n", "true", "TRUE", "false", "", ".."][..])
            .prop_map(|v| v.as_bytes().to_vec()),
        // A file's bytes, which may look like a form's own headers and delimiters.
        2 => proptest::collection::vec(
            prop_oneof![
                Just(b"\r\n".to_vec()),
                Just(b"--XyZ".to_vec()),
                Just(b"name=\"model\"".to_vec()),
                Just(b"\r\n\r\n".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..6),
            ],
            0..6,
        ).prop_map(|pieces| pieces.concat()),
    ];
    (
        name,
        proptest::option::weighted(0.3, "[a-z]{1,6}\\.(mp3|wav)"),
        value,
    )
        .prop_map(|(name, filename, value)| Part {
            name,
            filename,
            value,
        })
}

/// A form with `boundary`, as clients write it.
fn form(parts: &[Part], boundary: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{}\"", part.name).as_bytes(),
        );
        if let Some(filename) = &part.filename {
            body.extend_from_slice(
                format!("; filename=\"{filename}\"\r\nContent-Type: audio/mpeg").as_bytes(),
            );
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(&part.value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// Whether a part's value ends at the delimiter after it, not at one inside it.
fn ends_where_it_should(value: &[u8], boundary: &str) -> bool {
    let delimiter = format!("\r\n--{boundary}");
    let text = [value, delimiter.as_bytes()].concat();
    text.windows(delimiter.len())
        .position(|window| window == delimiter.as_bytes())
        == Some(value.len())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_multipart_peek_never_panics_and_stays_in_the_body(
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..128),
            (proptest::collection::vec(part(), 0..4), 0usize..400, any::<u8>()).prop_map(|(parts, at, byte)| {
                // A form with one byte changed or cut short.
                let mut body = form(&parts, "XyZ");
                if !body.is_empty() {
                    let at = at % body.len();
                    if byte % 2 == 0 { body[at] = byte } else { body.truncate(at) }
                }
                body
            }),
        ],
        content_type in prop_oneof![
            Just("multipart/form-data; boundary=XyZ".to_owned()),
            Just("multipart/form-data; boundary=\"XyZ\"; charset=utf-8".to_owned()),
            Just("MULTIPART/FORM-DATA;BOUNDARY=XyZ".to_owned()),
            string(),
        ],
    ) {
        if let Ok(peeked) = peek_multipart(&body, &content_type) {
            let span = peeked.model_span.clone();
            prop_assert!(span.start <= span.end && span.end <= body.len(), "{:?} of {}", span, body.len());
            let value = std::str::from_utf8(&body[span]).expect("the model is text");
            prop_assert_eq!(value.trim(), peeked.model.as_ref());
            prop_assert!(!peeked.model.is_empty());
        }
    }

    #[test]
    fn the_multipart_peek_finds_the_model_and_rewrites_only_it(
        parts in proptest::collection::vec(part(), 0..5),
        boundary in "[A-Za-z0-9'()+_,./:=?-]{1,70}",
        target in "[a-z][a-z0-9.-]{0,15}",
    ) {
        let body = Bytes::from(form(&parts, &boundary));
        // A value holding the delimiter ends its part early; such forms are not what a client
        // writes, and are left to the property above.
        prop_assume!(parts.iter().all(|p| ends_where_it_should(&p.value, &boundary)));
        let content_type = format!("multipart/form-data; boundary={boundary}");
        // A part is found by its name, a file's as any other's.
        let model = parts
            .iter()
            .find(|p| p.name == "model")
            .map(|p| String::from_utf8_lossy(&p.value).trim().to_owned());
        let stream = parts
            .iter()
            .find(|p| p.name == "stream")
            .is_some_and(|p| p.value.eq_ignore_ascii_case(b"true"));
        // A form naming `model` or `stream` twice is refused: a server may read either value.
        let repeated = ["model", "stream"]
            .into_iter()
            .any(|name| parts.iter().filter(|p| p.name == name).count() > 1);
        let peeked = peek_multipart(&body, &content_type);
        if repeated {
            prop_assert!(
                matches!(&peeked, Err(ProxyError::BodyUnreadable(m)) if m.contains("more than once")),
                "{:?}", peeked.map(|p| p.model.into_owned())
            );
            return Ok(());
        }
        match (peeked, model) {
            (Ok(peeked), Some(model)) => {
                prop_assert_eq!(peeked.model.as_ref(), model.as_str());
                prop_assert_eq!(peeked.stream, stream);
                let rewritten = with_model(&body, &peeked, &target);
                let again = peek_multipart(&rewritten, &content_type).expect("still a form");
                prop_assert_eq!(again.model.as_ref(), target.as_str());
                prop_assert_eq!(&rewritten[..peeked.model_span.start], &body[..peeked.model_span.start]);
                prop_assert!(rewritten.ends_with(&body[peeked.model_span.end..]));
            }
            (Err(ProxyError::MissingModel), model) => {
                prop_assert!(model.is_none_or(|m| m.is_empty()));
            }
            (Err(ProxyError::InvalidModel(_)), Some(model)) => prop_assert_eq!(model.as_str(), ".."),
            (Err(ProxyError::ModelNotString), Some(_)) => {}
            (result, model) => prop_assert!(false, "{:?} for the model {:?}", result.map(|p| p.model.into_owned()), model),
        }
    }
}

//! Audio transcriptions, a `multipart/form-data` upload: a file of about 300 KB whose route maps
//! `whisper-1` to `whisper-large-v3` reaches the provider byte for byte with only the model
//! field's value changed, whether the model comes before the file (the OpenAI SDK's order) or
//! after it.

use bytes::Bytes;
use switchyard_tests::providers::OpenAiMock;
use switchyard_tests::providers::endpoints::{FormPart, form_body, form_field, parse_form};
use switchyard_tests::{ApiResponse, Gateway};

use super::endpoints::setup;
use super::{Upstream, post_typed, request_id};

/// About 300 KB of audio-like bytes, with pieces that look like a form's delimiters and a model
/// field inside, which a gateway that parses the upload loosely would trip over.
fn recording() -> Bytes {
    let mut bytes = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    let mut state = 0x2545_F491_u32;
    while bytes.len() < 300 * 1024 {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        bytes.push((state >> 24) as u8);
        if bytes.len().is_multiple_of(20_000) {
            bytes.extend_from_slice(
                b"\r\n--\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n",
            );
        }
    }
    Bytes::from(bytes)
}

/// Sends a transcription whose form has `parts`; returns the answer and the form the provider got.
async fn transcribe(
    gateway: &Gateway,
    mock: &OpenAiMock,
    parts: &[FormPart],
) -> (ApiResponse, Vec<FormPart>) {
    // A boundary like the one httpx draws: random hex.
    let boundary = "4f3a0e2b9c8d7e6f5a4b3c2d1e0f9a8b";
    for part in parts {
        let holds = part
            .body
            .windows(boundary.len())
            .any(|w| w == boundary.as_bytes());
        assert!(!holds, "the part {} holds the boundary", part.name);
    }
    let body = form_body(boundary, parts);
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let request = post_typed(gateway, "/v1/audio/transcriptions", &content_type, body);
    let response = ApiResponse::send(request).await;
    response.expect_status(200, "a transcription");
    let sent = mock.last_request();
    assert_eq!(sent.path, "/v1/audio/transcriptions");
    assert_eq!(sent.header("content-type"), Some(content_type.as_str()));
    let renamed: Vec<FormPart> = parts
        .iter()
        .map(|part| match part.name.as_str() {
            "model" => FormPart::field("model", "whisper-large-v3"),
            _ => part.clone(),
        })
        .collect();
    // The provider got the client's bytes with only the model field's value changed.
    assert!(
        sent.body == form_body(boundary, &renamed),
        "the form sent upstream is not the client's with the model renamed"
    );
    let received = parse_form(&content_type, &sent.body).expect("a well-formed form upstream");
    (response, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_transcription_arrives_intact_with_its_model_renamed() {
    let (gateway, mock) = setup(Upstream::OpenAi).await;
    let audio = recording();
    let file = FormPart::file("file", "speech.mp3", "audio/mpeg", audio.clone());
    // The OpenAI SDK writes the fields first and the file last; curl -F writes them in order.
    let sdk_order = [
        FormPart::field("model", "whisper-1"),
        FormPart::field("response_format", "json"),
        file.clone(),
    ];
    let file_first = [file, FormPart::field("model", "whisper-1")];
    for parts in [&sdk_order[..], &file_first[..]] {
        let (response, received) = transcribe(&gateway, &mock, parts).await;
        assert_eq!(
            form_field(&received, "model").as_deref(),
            Some("whisper-large-v3")
        );
        let uploaded = received
            .iter()
            .find(|p| p.name == "file")
            .expect("the file part");
        assert!(uploaded.body == audio, "the audio changed on its way");
        assert_eq!(uploaded.filename.as_deref(), Some("speech.mp3"));
        let text = format!(
            "{} bytes of speech.mp3 transcribed by whisper-large-v3",
            audio.len()
        );
        assert_eq!(response.json()["text"], text);
        assert_eq!(
            response.header("x-switchyard-model"),
            Some("whisper-large-v3")
        );
        let log = gateway.wait_log(&request_id(&response.headers)).await;
        assert_eq!(
            (
                log.endpoint.as_str(),
                log.requested_model.as_deref(),
                log.model.as_deref()
            ),
            (
                "audio_transcriptions",
                Some("whisper-1"),
                Some("whisper-large-v3")
            ),
            "{log:?}"
        );
    }
}

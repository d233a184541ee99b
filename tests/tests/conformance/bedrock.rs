//! What only Bedrock has: temporary credentials (the session token, signed), the region by
//! default, signatures AWS refuses and how the client sees the refusal, and an exception frame in
//! the middle of a ConverseStream.

use serde_json::json;
use switchyard_tests::Gateway;
use switchyard_tests::providers::bedrock::{self, BedrockMock};
use switchyard_tests::providers::conformance::{MODEL, ROUTE, ask, chat};
use switchyard_tests::providers::sigv4::{self, MISMATCH, parse_authorization};
use switchyard_tests::providers::{Answer, Harness, Kind};

const SESSION_TOKEN: &str =
    "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+session/token=";

/// A gateway with one Bedrock provider for `spec`, routed as [`ROUTE`].
async fn gateway_for(mock: &BedrockMock, spec: &serde_json::Value) -> Gateway {
    let gateway = Gateway::start().await;
    gateway.add_provider(spec).await;
    gateway
        .add_route(&json!({
            "name": ROUTE,
            "match": [{"type": "exact", "value": MODEL}],
            "upstreams": [{"provider": mock.name(), "model": Kind::Bedrock.upstream_model()}],
        }))
        .await;
    gateway
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_credentials_sign_their_session_token_for_us_east_1_by_default() {
    let key = bedrock::test_key("bedrock-sts", Some(SESSION_TOKEN));
    let mock = BedrockMock::start("bedrock-sts", key.clone(), "us-east-1").await;
    // No aws_region: a base URL that names no region is signed for us-east-1.
    let gateway = gateway_for(&mock, &mock.spec(None)).await;
    let response = gateway.chat(&chat(ask("hi"), &[])).await;
    response.expect_status(200, "a request signed with temporary credentials");
    let request = mock.last_request();
    assert_eq!(request.header("x-amz-security-token"), Some(SESSION_TOKEN));
    let auth = parse_authorization(request.header("authorization").expect("signed"))
        .expect("a SigV4 authorization");
    assert_eq!(auth.region, "us-east-1");
    for header in ["host", "x-amz-date", "x-amz-security-token", "content-type"] {
        assert!(
            auth.signed_headers.iter().any(|h| h == header),
            "{header} is signed: {:?}",
            auth.signed_headers
        );
    }
    let verified = sigv4::verify(
        &request,
        &key,
        "us-east-1",
        "bedrock",
        std::time::SystemTime::now(),
    );
    assert_eq!(verified, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_gets_aws_invalid_signature_as_an_authentication_error() {
    let key = bedrock::test_key("bedrock-bad", None);
    let mock = BedrockMock::start("bedrock-bad", key.clone(), "us-east-1").await;
    let mut wrong = key;
    wrong.secret_access_key.push('x');
    let mut spec = mock.spec(Some("us-east-1"));
    spec["api_keys"] = json!([wrong.provider_key()]);
    let gateway = gateway_for(&mock, &spec).await;
    let response = gateway.chat(&chat(ask("hi"), &[])).await;
    response.expect_status(403, "a signature AWS does not accept");
    let error = response.openai_error();
    assert_eq!(error["type"], "authentication_error", "{error}");
    assert_eq!(error["code"], "InvalidSignatureException", "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(MISMATCH), "{message}");
    assert!(mock.request_count() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_session_token_is_an_invalid_security_token() {
    let key = bedrock::test_key("bedrock-nosts", Some(SESSION_TOKEN));
    let mock = BedrockMock::start("bedrock-nosts", key.clone(), "us-east-1").await;
    let mut spec = mock.spec(None);
    let permanent = bedrock::test_key("bedrock-nosts", None);
    spec["api_keys"] = json!([permanent.provider_key()]);
    let gateway = gateway_for(&mock, &spec).await;
    let response = gateway.chat(&chat(ask("hi"), &[])).await;
    response.expect_status(403, "temporary credentials without their token");
    let error = response.openai_error();
    assert_eq!(error["code"], "UnrecognizedClientException", "{error}");
    assert_eq!(
        error["message"],
        "The security token included in the request is invalid."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exception_mid_stream_ends_the_stream_with_its_error() {
    let h = Harness::start(Kind::Bedrock).await;
    h.answer(Answer::text("The quick brown fox jumps"));
    // messageStart and two deltas, then the model fails.
    let failure = "The model encountered an error processing the stream.";
    h.bedrock()
        .fail_stream_after(3, "modelStreamErrorException", failure);
    let stream = h.stream(&chat(ask("Go"), &[("stream", json!(true))])).await;
    assert_eq!(stream.content, "The quick");
    assert!(
        !stream.done,
        "no [DONE] after an exception: {:?}",
        stream.events
    );
    let error = stream
        .error
        .as_ref()
        .expect("the exception ends the stream");
    assert_eq!(error["code"], "ModelStreamErrorException", "{error}");
    assert_eq!(error["message"], failure, "{error}");
    assert_eq!(
        h.requests().len(),
        1,
        "a stream that started is not retried"
    );
}

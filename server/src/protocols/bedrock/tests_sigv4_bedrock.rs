//! Tests of SigV4 signing for Bedrock, against signatures and canonical requests botocore
//! computes for the same requests, plus the credentials' parsing and the region read from a base
//! URL.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderValue, Method, Request};

use super::sigv4::{CanonicalRequest, authorization, hex_sha256};
use super::{
    AwsCredentials, BedrockProvider, SIGNING_SERVICE, base_url, region_from_base_url, sign,
};
use crate::protocols::{Operation, ProviderProtocol};

fn credentials(session_token: Option<&str>) -> AwsCredentials {
    AwsCredentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: session_token.map(str::to_owned),
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

const BOTOCORE_DATE: u64 = 1_714_566_896; // 2024-05-01T12:34:56Z
const PROFILE: &str = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0";
const BODY: &[u8] = br#"{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}"#;

/// A Converse request as the gateway would build it: the provider's path under the region's
/// base URL, JSON, a user agent, then signed.
fn bedrock_request(region: &str, model: &str, stream: bool) -> http::request::Parts {
    let path = BedrockProvider
        .path(Operation::Chat { stream }, model, "")
        .expect("a chat path");
    let (parts, ()) = Request::builder()
        .method(Method::POST)
        .uri(format!("{}{path}", base_url(region)))
        .header("content-type", "application/json")
        .header("content-length", BODY.len())
        .header("user-agent", "switchyard")
        .body(())
        .expect("request")
        .into_parts();
    parts
}

fn bedrock_sign(parts: &mut http::request::Parts, region: &str, token: Option<&str>) -> String {
    sign(
        parts,
        BODY,
        &credentials(token),
        region,
        SIGNING_SERVICE,
        at(BOTOCORE_DATE),
    )
    .expect("signs");
    parts.headers["authorization"]
        .to_str()
        .expect("ASCII")
        .to_owned()
}

#[test]
fn bedrock_signatures_match_botocore() {
    // botocore 1.43's SigV4Auth("bedrock", region) over the same request, at the same time.
    let mut parts = bedrock_request("us-east-1", PROFILE, false);
    assert_eq!(
        bedrock_sign(&mut parts, "us-east-1", None),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=482b4fab7431b7df9b14ddcb9866b4fa21659974e23be80dec310703d62ee15e"
    );
    assert!(parts.headers["authorization"].is_sensitive());
    assert!(!parts.headers.contains_key("x-amz-content-sha256"));
    assert!(!parts.headers.contains_key("x-amz-security-token"));

    let mut parts = bedrock_request("us-east-1", PROFILE, false);
    assert_eq!(
        bedrock_sign(&mut parts, "us-east-1", Some("SESSIONTOKENEXAMPLE")),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=5323664152d2722c84dbfc220b67ba81ba3ae68fef00700666c5d708dfe7f653"
    );
    assert_eq!(parts.headers["x-amz-security-token"], "SESSIONTOKENEXAMPLE");
    assert!(parts.headers["x-amz-security-token"].is_sensitive());

    let mut parts = bedrock_request("eu-west-3", "anthropic.claude-3-haiku-20240307-v1:0", true);
    assert_eq!(
        bedrock_sign(&mut parts, "eu-west-3", None),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/eu-west-3/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=93127aa63e62d898ac49106fcc8ee503c91c946a386d4f9df6f57189eef58821"
    );
}

#[test]
fn the_canonical_request_encodes_the_model_id_twice() {
    let parts = bedrock_request("us-east-1", PROFILE, false);
    let mut headers = parts.headers.clone();
    headers.insert("x-amz-date", HeaderValue::from_static("20240501T123456Z"));
    let request = CanonicalRequest {
        method: "POST",
        path: parts.uri.path(),
        query: "",
        headers: &headers,
        host: Some("bedrock-runtime.us-east-1.amazonaws.com"),
        payload_hash: &hex_sha256(BODY),
    };
    let (text, signed) = request.text();
    // botocore's canonical request for the same request.
    assert_eq!(
        String::from_utf8(text).expect("UTF-8"),
        "POST\n/model/arn%253Aaws%253Abedrock%253Aus-east-1%253A123456789012%253Ainference-profile%252Fus.anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse\n\ncontent-type:application/json\nhost:bedrock-runtime.us-east-1.amazonaws.com\nx-amz-date:20240501T123456Z\n\ncontent-type;host;x-amz-date\n45e583fed2564dc00e823303d7609f8587af7f685b993cb0f998afc0d480b01d"
    );
    assert_eq!(signed, "content-type;host;x-amz-date");
}

#[test]
fn signing_again_replaces_the_earlier_signature() {
    let mut parts = bedrock_request("us-east-1", PROFILE, false);
    let first = bedrock_sign(&mut parts, "us-east-1", Some("TOKEN"));
    let second = bedrock_sign(&mut parts, "us-east-1", Some("TOKEN"));
    assert_eq!(first, second);
    assert_eq!(parts.headers.get_all("authorization").iter().count(), 1);
    assert_eq!(parts.headers.get_all("x-amz-date").iter().count(), 1);
    assert_eq!(
        parts.headers.get_all("x-amz-security-token").iter().count(),
        1
    );
    // Dropping to permanent credentials leaves no stale token behind.
    bedrock_sign(&mut parts, "us-east-1", None);
    assert!(!parts.headers.contains_key("x-amz-security-token"));
}

#[test]
fn a_port_is_signed_and_a_uri_without_a_host_is_refused() {
    let (mut parts, ()) = Request::builder()
        .method("POST")
        .uri("http://127.0.0.1:9000/model/m/converse")
        .body(())
        .expect("request")
        .into_parts();
    sign(
        &mut parts,
        b"{}",
        &credentials(None),
        "us-east-1",
        "bedrock",
        at(BOTOCORE_DATE),
    )
    .expect("signs");
    let mut headers = parts.headers.clone();
    headers.remove("authorization");
    let with_port = CanonicalRequest {
        method: "POST",
        path: "/model/m/converse",
        query: "",
        headers: &headers,
        host: Some("127.0.0.1:9000"),
        payload_hash: &hex_sha256(b"{}"),
    };
    let expected = authorization(
        &with_port,
        &credentials(None),
        "us-east-1",
        "bedrock",
        "20240501T123456Z",
    );
    assert_eq!(parts.headers["authorization"], expected.as_str());

    let (mut parts, ()) = Request::builder()
        .uri("/relative")
        .body(())
        .expect("request")
        .into_parts();
    let no_host = sign(
        &mut parts,
        b"",
        &credentials(None),
        "us-east-1",
        "bedrock",
        at(0),
    );
    assert!(no_host.is_err(), "no host to sign");
}

#[test]
fn credentials_parse_and_never_show_the_secret() {
    let key =
        AwsCredentials::parse("AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
            .expect("two parts");
    assert_eq!(key.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(
        key.secret_access_key,
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    );
    assert_eq!(key.session_token, None);
    let debug = format!("{key:?}");
    assert!(debug.contains("AKIAIOSFODNN7EXAMPLE"), "{debug}");
    assert!(!debug.contains("wJalr"), "{debug}");

    let temporary = AwsCredentials::parse("ASIAEXAMPLE:c2VjcmV0+/=:IQoJb3JpZ2luX2VjE//token==")
        .expect("three parts");
    assert_eq!(
        temporary.session_token.as_deref(),
        Some("IQoJb3JpZ2luX2VjE//token==")
    );
    let debug = format!("{temporary:?}");
    assert!(
        !debug.contains("c2VjcmV0") && !debug.contains("IQoJ"),
        "{debug}"
    );

    for bad in [
        "",
        "AKIDONLY",
        ":secret",
        "AKID:",
        "AKID:sec ret",
        "AK-ID:secret",
        "AKID:secret:",
    ] {
        let error = AwsCredentials::parse(bad).expect_err(bad);
        assert!(error.contains("ACCESS_KEY_ID:SECRET_ACCESS_KEY"), "{error}");
        assert!(
            !error.contains("secret:") && !error.contains("sec ret"),
            "{error}"
        );
    }
}

#[test]
fn regions_are_read_from_bedrock_runtime_urls() {
    for (url, region) in [
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com",
            Some("us-east-1"),
        ),
        (
            "https://bedrock-runtime.eu-west-3.amazonaws.com/",
            Some("eu-west-3"),
        ),
        (
            "https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com",
            Some("us-gov-west-1"),
        ),
        (
            "https://bedrock-runtime.cn-north-1.amazonaws.com.cn",
            Some("cn-north-1"),
        ),
        (
            "https://vpce-0123-abcd.bedrock-runtime.ap-southeast-2.vpce.amazonaws.com",
            Some("ap-southeast-2"),
        ),
        (
            "https://BEDROCK-RUNTIME.US-WEST-2.AMAZONAWS.COM",
            Some("us-west-2"),
        ),
        ("https://bedrock.us-east-1.amazonaws.com", None),
        ("https://bedrock-runtime.us-east-1.example.com", None),
        ("https://api.openai.com/v1", None),
        ("not a url", None),
    ] {
        assert_eq!(region_from_base_url(url).as_deref(), region, "{url}");
    }
    assert_eq!(
        region_from_base_url(&base_url("ap-northeast-1")).as_deref(),
        Some("ap-northeast-1")
    );
}

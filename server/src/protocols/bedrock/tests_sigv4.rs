//! Tests of SigV4 signing against AWS's published test suite: the `get-*` and `post-*` cases,
//! with the signatures the AWS SDKs' own suites carry for them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Request};

use super::sigv4::{CanonicalRequest, authorization, canonical_uri};
use super::{AwsCredentials, sign};

const SUITE_DATE: u64 = 1_440_938_160; // 2015-08-30T12:36:00Z
const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn suite_credentials(session_token: Option<&str>) -> AwsCredentials {
    AwsCredentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: session_token.map(str::to_owned),
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Signs a request to `example.amazonaws.com` as the suite does and returns its authorization.
fn suite_sign(
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    session_token: Option<&str>,
) -> String {
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("https://example.amazonaws.com{path_and_query}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (mut parts, ()) = builder.body(()).expect("request").into_parts();
    let credentials = suite_credentials(session_token);
    sign(
        &mut parts,
        body,
        &credentials,
        "us-east-1",
        "service",
        at(SUITE_DATE),
    )
    .expect("signs");
    assert_eq!(parts.headers["x-amz-date"], "20150830T123600Z");
    parts.headers["authorization"]
        .to_str()
        .expect("ASCII")
        .to_owned()
}

fn expected(signed_headers: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed_headers}, Signature={signature}"
    )
}

#[test]
fn the_aws_suite_vanilla_cases() {
    let plain = "host;x-amz-date";
    let cases: [(&str, &str, &str); 8] = [
        (
            "get-vanilla",
            "GET /",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "get-vanilla-query-order-key-case",
            "GET /?Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        (
            "get-vanilla-query-unreserved",
            "GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
        ),
        (
            "get-vanilla-utf8-query",
            "GET /?%E1%88%B4=bar",
            "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        ),
        (
            "get-unreserved",
            "GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
        ),
        (
            "post-vanilla",
            "POST /",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
        (
            "post-vanilla-query",
            "POST /?Param1=value1",
            "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
        ),
        (
            "post-vanilla-query-nonunreserved",
            "POST /?%40%23%24%25%5E=&%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D",
            "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e",
        ),
    ];
    for (name, request, signature) in cases {
        let (method, target) = request.split_once(' ').expect("method and target");
        assert_eq!(
            suite_sign(method, target, &[], b"", None),
            expected(plain, signature),
            "{name}"
        );
    }
}

#[test]
fn the_aws_suite_header_cases() {
    let one = "host;my-header1;x-amz-date";
    assert_eq!(
        suite_sign("POST", "/", &[("My-Header1", "value1")], b"", None),
        expected(
            one,
            "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"
        ),
        "post-header-key-sort"
    );
    assert_eq!(
        suite_sign("POST", "/", &[("My-Header1", "VALUE1")], b"", None),
        expected(
            one,
            "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"
        ),
        "post-header-value-case"
    );
    // Repeated headers are one line, their values joined by commas in the order sent.
    assert_eq!(
        suite_sign(
            "GET",
            "/",
            &[
                ("My-Header1", "value2"),
                ("My-Header1", "value2"),
                ("My-Header1", "value1")
            ],
            b"",
            None
        ),
        expected(
            one,
            "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"
        ),
        "get-header-key-duplicate"
    );
    assert_eq!(
        suite_sign(
            "GET",
            "/",
            &[
                ("My-Header1", "value4"),
                ("My-Header1", "value1"),
                ("My-Header1", "value3"),
                ("My-Header1", "value2")
            ],
            b"",
            None
        ),
        expected(
            one,
            "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"
        ),
        "get-header-value-order"
    );
    assert_eq!(
        suite_sign(
            "GET",
            "/",
            &[("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            b"",
            None
        ),
        expected(
            "host;my-header1;my-header2;x-amz-date",
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"
        ),
        "get-header-value-trim"
    );
}

#[test]
fn the_aws_suite_body_and_session_token_cases() {
    // The length is not signed (an HTTP client may set it), as in the suite's signed headers.
    assert_eq!(
        suite_sign(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Length", "13")
            ],
            b"Param1=value1",
            None
        ),
        expected(
            "content-type;host;x-amz-date",
            "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        ),
        "post-x-www-form-urlencoded"
    );
    let token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
    assert_eq!(
        suite_sign("POST", "/", &[], b"", Some(token)),
        expected(
            "host;x-amz-date;x-amz-security-token",
            "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
        ),
        "post-sts-header-before"
    );
}

#[test]
fn the_aws_suite_utf8_path() {
    // get-utf8 sends the path's UTF-8 bytes raw, which an `http::Uri` cannot hold: the
    // canonical request is checked directly.
    assert_eq!(canonical_uri("/ሴ"), "/%E1%88%B4");
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
    let request = CanonicalRequest {
        method: "GET",
        path: "/ሴ",
        query: "",
        headers: &headers,
        host: Some("example.amazonaws.com"),
        payload_hash: EMPTY_HASH,
    };
    assert_eq!(
        authorization(
            &request,
            &suite_credentials(None),
            "us-east-1",
            "service",
            "20150830T123600Z"
        ),
        expected(
            "host;x-amz-date",
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"
        )
    );
}

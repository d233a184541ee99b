//! Guardrail policies as an admin API resource on the real binary: CRUD, validation errors with
//! field paths, references from routes and consumers, and config documents.

use serde_json::{Value, json};
use switchyard_shared::admin::{ConfigDiff, SNAPSHOT_VERSION_HEADER};
use switchyard_shared::{ConfigDocument, GuardrailSpec};
use switchyard_tests::fixtures::{exact, provider, simple_route, test_key};
use switchyard_tests::{Gateway, MockUpstream};

/// The issue's example policy.
fn pii_default() -> Value {
    json!({
        "name": "pii-default",
        "mode": "enforce",
        "detectors": [
            {"type": "email", "action": "mask"},
            {"type": "credit_card", "action": "block"},
            {"type": "regex", "label": "EMPLOYEE_ID", "pattern": "E\\d{6}", "action": "hash"},
            {"type": "deny_words", "words": ["project-x"], "action": "block"}
        ],
        "on_response": null
    })
}

fn policy(name: &str) -> Value {
    json!({"name": name, "detectors": [{"type": "phone", "action": "redact_restore"}]})
}

fn guarded_route(name: &str, provider: &str, guardrails: &[&str]) -> Value {
    let mut route = simple_route(name, exact(name), provider);
    route["guardrails"] = json!(guardrails);
    route
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|item| item["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardrail_policies_crud_round_trip() {
    let gateway = Gateway::start().await;
    let sent = pii_default();
    let expected: GuardrailSpec = serde_json::from_value(sent.clone()).expect("a valid policy");

    let created = gateway.admin_post("/api/guardrails", &sent).await;
    created.expect_status(201, "POST guardrail");
    assert!(created.header(SNAPSHOT_VERSION_HEADER).is_some());
    let shown: GuardrailSpec = serde_json::from_value(created.json()).expect("the policy");
    assert_eq!(shown, expected);

    let fetched = gateway.admin_get("/api/guardrails/pii-default").await;
    fetched.expect_status(200, "GET guardrail");
    let shown: GuardrailSpec = serde_json::from_value(fetched.json()).expect("the policy");
    assert_eq!(shown, expected);

    let duplicate = gateway.admin_post("/api/guardrails", &sent).await;
    duplicate.expect_status(409, "a second policy of the same name");
    duplicate.admin_error("conflict");

    gateway
        .admin_post("/api/guardrails", &policy("phones"))
        .await
        .expect_status(201, "POST second policy");
    let listed = gateway.admin_get("/api/guardrails").await;
    listed.expect_status(200, "list guardrails");
    assert_eq!(names(&listed.json()), ["phones", "pii-default"]);

    let mut changed = sent.clone();
    changed["mode"] = json!("monitor");
    changed["on_response"] = json!({"action": "mask"});
    let replaced = gateway
        .admin_put("/api/guardrails/pii-default", &changed)
        .await;
    replaced.expect_status(200, "PUT guardrail");
    assert!(replaced.header(SNAPSHOT_VERSION_HEADER).is_some());
    let shown = gateway
        .admin_get("/api/guardrails/pii-default")
        .await
        .json();
    assert_eq!(shown["mode"], "monitor");
    assert_eq!(shown["on_response"]["action"], "mask");

    let renamed = gateway.admin_put("/api/guardrails/phones", &sent).await;
    renamed.expect_status(422, "PUT with another name");
    assert_eq!(renamed.error_fields(), ["name"]);

    gateway
        .admin_get("/api/guardrails/missing")
        .await
        .expect_status(404, "GET an unknown policy")
        .admin_error("not_found");
    gateway
        .admin_put("/api/guardrails/missing", &policy("missing"))
        .await
        .expect_status(404, "PUT an unknown policy");

    gateway
        .admin_delete("/api/guardrails/phones")
        .await
        .expect_status(204, "DELETE guardrail");
    gateway
        .admin_delete("/api/guardrails/phones")
        .await
        .expect_status(404, "DELETE it again");
    assert_eq!(
        names(&gateway.admin_get("/api/guardrails").await.json()),
        ["pii-default"]
    );

    // The OpenAPI document describes the collection and every schema a policy refers to.
    let doc = gateway.admin_get("/api/openapi.json").await.json();
    for path in ["/api/guardrails", "/api/guardrails/{name}"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    let schemas = &doc["components"]["schemas"];
    for schema in [
        "GuardrailSpec",
        "DetectorSpec",
        "DetectorType",
        "GuardrailAction",
        "GuardrailMode",
        "ResponseCheck",
        "RouteCache",
        "GuardrailHit",
    ] {
        assert!(schemas.get(schema).is_some(), "schema {schema} missing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_policies_are_refused_with_field_paths() {
    let gateway = Gateway::start().await;
    let refused = |body: Value| {
        let gateway = &gateway;
        async move {
            let response = gateway.admin_post("/api/guardrails", &body).await;
            response.expect_status(422, &format!("POST {body}"));
            let error = response.admin_error("validation_failed");
            let fields: Vec<(String, String)> = error["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .map(|f| {
                    (
                        f["field"].as_str().expect("field").to_owned(),
                        f["message"].as_str().expect("message").to_owned(),
                    )
                })
                .collect();
            fields
        }
    };

    // A pattern that does not compile (an unclosed group).
    let mut bad_regex = pii_default();
    bad_regex["detectors"][2]["pattern"] = json!("E(\\d{6}");
    let fields = refused(bad_regex).await;
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].0, "detectors[2].pattern");
    assert!(
        fields[0].1.contains("not a valid regular expression"),
        "{fields:?}"
    );

    // A pattern that matches the empty string would "find" something everywhere.
    let mut empty_match = pii_default();
    empty_match["detectors"][2]["pattern"] = json!("x*");
    let fields = refused(empty_match).await;
    assert_eq!(fields[0].0, "detectors[2].pattern", "{fields:?}");

    // A regex needs a label to report and mask its hits under.
    let mut unlabelled = pii_default();
    unlabelled["detectors"][2]
        .as_object_mut()
        .expect("a detector")
        .remove("label");
    let fields = refused(unlabelled).await;
    assert_eq!(
        fields.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        ["detectors[2].label"]
    );

    // Every failing field at once.
    let many = json!({
        "name": "Not A Slug",
        "detectors": [
            {"type": "email", "action": "mask", "pattern": "x"},
            {"type": "regex", "label": "lower", "pattern": "E\\d+", "action": "mask"},
            {"type": "deny_words", "words": [], "action": "block"}
        ],
        "on_response": {"action": "hash"}
    });
    let fields = refused(many).await;
    assert_eq!(
        fields.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        [
            "name",
            "detectors[0].pattern",
            "detectors[1].label",
            "detectors[2].words",
            "on_response.action"
        ]
    );

    // A wrong type or an unknown field is a 422 naming it, like any other invalid input.
    let fields =
        refused(json!({"name": "x", "detectors": [{"type": "fingerprint", "action": "mask"}]}))
            .await;
    assert_eq!(fields[0].0, "detectors[0].type", "{fields:?}");
    let fields = refused(json!({"name": "x", "detectors": [], "extra": 1})).await;
    assert_eq!(fields.len(), 1, "{fields:?}");

    assert_eq!(
        names(&gateway.admin_get("/api/guardrails").await.json()),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_and_consumers_reference_existing_policies() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    gateway
        .add_provider(&provider("p", &mock, &test_key("p")))
        .await;

    let unknown = gateway
        .admin_post("/api/routes", &guarded_route("r", "p", &["pii-default"]))
        .await;
    unknown.expect_status(422, "a route naming an unknown policy");
    assert_eq!(unknown.error_fields(), ["guardrails[0]"]);
    let consumer = json!({"name": "team", "guardrails": ["pii-default"]});
    let unknown = gateway.admin_post("/api/consumers", &consumer).await;
    unknown.expect_status(422, "a consumer naming an unknown policy");
    assert_eq!(unknown.error_fields(), ["guardrails[0]"]);

    gateway
        .admin_post("/api/guardrails", &pii_default())
        .await
        .expect_status(201, "POST guardrail");
    gateway
        .add_route(&guarded_route("r", "p", &["pii-default"]))
        .await;
    gateway
        .admin_post("/api/consumers", &consumer)
        .await
        .expect_status(201, "POST consumer");
    let route = gateway.admin_get("/api/routes/r").await.json();
    assert_eq!(route["guardrails"], json!(["pii-default"]));

    // A route naming a policy twice, or one that does not exist, is refused on replace too.
    let twice = gateway
        .admin_put(
            "/api/routes/r",
            &guarded_route("r", "p", &["pii-default", "pii-default"]),
        )
        .await;
    twice.expect_status(422, "PUT a route naming a policy twice");
    assert_eq!(twice.error_fields(), ["guardrails[1]"]);
    let gone = gateway
        .admin_put(
            "/api/routes/r",
            &guarded_route("r", "p", &["pii-default", "gone"]),
        )
        .await;
    gone.expect_status(422, "PUT a route naming an unknown policy");
    assert_eq!(gone.error_fields(), ["guardrails[1]"]);

    let in_use = gateway.admin_delete("/api/guardrails/pii-default").await;
    in_use.expect_status(409, "DELETE a policy a route uses");
    let error = in_use.admin_error("conflict");
    assert_eq!(error["routes"], json!(["r"]));
    let message = error["message"].as_str().expect("a message");
    assert!(
        message.contains("routes: r") && message.contains("consumers: team"),
        "{message}"
    );

    gateway
        .admin_delete("/api/routes/r")
        .await
        .expect_status(204, "DELETE route");
    let still = gateway.admin_delete("/api/guardrails/pii-default").await;
    still.expect_status(409, "DELETE a policy a consumer uses");
    assert_eq!(still.admin_error("conflict")["routes"], Value::Null);
    gateway
        .admin_put("/api/consumers/team", &json!({"name": "team"}))
        .await
        .expect_status(200, "PUT consumer without policies");
    gateway
        .admin_delete("/api/guardrails/pii-default")
        .await
        .expect_status(204, "DELETE a policy nothing uses");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_documents_export_and_apply_policies() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    let provider_spec = provider("p", &mock, &test_key("p"));
    gateway.add_provider(&provider_spec).await;
    for body in [pii_default(), policy("phones")] {
        gateway
            .admin_post("/api/guardrails", &body)
            .await
            .expect_status(201, "POST guardrail");
    }
    gateway
        .add_route(&guarded_route("r", "p", &["pii-default"]))
        .await;

    let yaml = gateway.admin_get("/api/config").await;
    yaml.expect_status(200, "export YAML");
    assert!(yaml.text().contains("\nguardrails:\n"), "{}", yaml.text());
    let exported = gateway.admin_get("/api/config?format=json").await.json();
    let doc: ConfigDocument = serde_json::from_value(exported.clone()).expect("a document");
    assert_eq!(
        doc.guardrails
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>(),
        ["phones", "pii-default"]
    );

    // Into a fresh gateway: the policies arrive before the route that names them. The export
    // masks provider keys, so the provider is sent in full.
    let other = Gateway::start().await;
    let mut document = exported.clone();
    document["providers"] = json!([provider_spec]);
    let applied = other.admin_post("/api/config/apply", &document).await;
    applied.expect_status(200, "apply into a fresh gateway");
    let summary = applied.json();
    assert_eq!(summary["guardrails_created"], 2, "{summary}");
    assert_eq!(summary["routes_created"], 1, "{summary}");
    let copied: ConfigDocument =
        serde_json::from_value(other.admin_get("/api/config?format=json").await.json())
            .expect("a document");
    assert_eq!(copied.guardrails, doc.guardrails);
    assert_eq!(copied.routes, doc.routes);

    // Applying the export again changes nothing.
    let again = gateway.admin_post("/api/config/apply", &exported).await;
    again.expect_status(200, "re-apply the export");
    assert_eq!(again.json()["guardrails_unchanged"], 2);

    // Pruning: the policy the document leaves out goes, and the diff says so first.
    let mut pruned = exported.clone();
    pruned["guardrails"] = json!([pii_default()]);
    let diff = gateway
        .admin_post("/api/config/diff?prune=true", &pruned)
        .await;
    diff.expect_status(200, "diff with prune");
    let diff: ConfigDiff = serde_json::from_value(diff.json()).expect("a diff");
    assert_eq!(diff.guardrails.delete, ["phones"]);
    assert_eq!(diff.guardrails.unchanged, ["pii-default"]);
    let applied = gateway
        .admin_post("/api/config/apply?prune=true", &pruned)
        .await;
    applied.expect_status(200, "apply with prune");
    assert_eq!(applied.json()["guardrails_deleted"], 1);
    assert_eq!(
        names(&gateway.admin_get("/api/guardrails").await.json()),
        ["pii-default"]
    );

    // A document whose route names a policy the pruned result would not have is refused whole.
    let mut orphaned = exported;
    orphaned["guardrails"] = json!([]);
    let refused = gateway
        .admin_post("/api/config/apply?prune=true", &orphaned)
        .await;
    refused.expect_status(422, "apply without the route's policy");
    assert_eq!(refused.error_fields(), ["routes[0].guardrails[0]"]);
    assert_eq!(
        names(&gateway.admin_get("/api/guardrails").await.json()),
        ["pii-default"]
    );
}

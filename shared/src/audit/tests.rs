//! Tests of `json_diff`: objects, named and indexed arrays, whole documents, and escaping.

use serde_json::json;

use super::*;

fn line(path: &str, op: DiffOp, before: Option<Value>, after: Option<Value>) -> DiffLine {
    DiffLine {
        path: path.to_owned(),
        op,
        before,
        after,
    }
}

#[test]
fn nothing_on_either_side_or_equal_documents_is_no_difference() {
    assert!(json_diff(None, None).is_empty());
    let doc = json!({"name": "chat", "upstreams": [{"provider": "a"}], "n": 1});
    assert!(json_diff(Some(&doc), Some(&doc.clone())).is_empty());
}

#[test]
fn a_document_created_or_deleted_is_one_line_for_the_whole() {
    let doc = json!({"name": "chat", "timeout": 5});
    assert_eq!(
        json_diff(None, Some(&doc)),
        vec![line("", DiffOp::Added, None, Some(doc.clone()))]
    );
    assert_eq!(
        json_diff(Some(&doc), None),
        vec![line("", DiffOp::Removed, Some(doc.clone()), None)]
    );
}

#[test]
fn objects_compare_key_by_key_and_recurse() {
    let before =
        json!({"name": "p", "base_url": "http://a", "old": true, "t": {"connect": 1, "read": 2}});
    let after =
        json!({"name": "p", "base_url": "http://b", "new": 3, "t": {"connect": 1, "read": 5}});
    assert_eq!(
        json_diff(Some(&before), Some(&after)),
        vec![
            line(
                "/base_url",
                DiffOp::Changed,
                Some(json!("http://a")),
                Some(json!("http://b"))
            ),
            line("/old", DiffOp::Removed, Some(json!(true)), None),
            line("/t/read", DiffOp::Changed, Some(json!(2)), Some(json!(5))),
            line("/new", DiffOp::Added, None, Some(json!(3))),
        ]
    );
}

#[test]
fn a_type_change_is_one_changed_line() {
    let before = json!({"model": null, "keys": ["a"]});
    let after = json!({"model": "gpt-4o", "keys": {"a": 1}});
    assert_eq!(
        json_diff(Some(&before), Some(&after)),
        vec![
            line(
                "/keys",
                DiffOp::Changed,
                Some(json!(["a"])),
                Some(json!({"a": 1}))
            ),
            line(
                "/model",
                DiffOp::Changed,
                Some(json!(null)),
                Some(json!("gpt-4o"))
            ),
        ]
    );
}

#[test]
fn arrays_of_named_objects_match_by_name_not_position() {
    let before = json!({"keys": [
        {"name": "laptop", "disabled": false},
        {"name": "ci", "disabled": false},
    ]});
    let after = json!({"keys": [
        {"name": "new", "disabled": false},
        {"name": "ci", "disabled": true},
    ]});
    assert_eq!(
        json_diff(Some(&before), Some(&after)),
        vec![
            line(
                "/keys/laptop",
                DiffOp::Removed,
                Some(json!({"name": "laptop", "disabled": false})),
                None
            ),
            line(
                "/keys/ci/disabled",
                DiffOp::Changed,
                Some(json!(false)),
                Some(json!(true))
            ),
            line(
                "/keys/new",
                DiffOp::Added,
                None,
                Some(json!({"name": "new", "disabled": false}))
            ),
        ]
    );
}

#[test]
fn upstreams_match_by_provider_and_an_insertion_is_one_line() {
    let before =
        json!({"upstreams": [{"provider": "a", "weight": 1}, {"provider": "b", "weight": 1}]});
    let after = json!({"upstreams": [
        {"provider": "new", "weight": 1},
        {"provider": "a", "weight": 1},
        {"provider": "b", "weight": 2},
    ]});
    assert_eq!(
        json_diff(Some(&before), Some(&after)),
        vec![
            line(
                "/upstreams/b/weight",
                DiffOp::Changed,
                Some(json!(1)),
                Some(json!(2))
            ),
            line(
                "/upstreams/new",
                DiffOp::Added,
                None,
                Some(json!({"provider": "new", "weight": 1}))
            ),
        ]
    );
}

#[test]
fn a_list_growing_from_empty_reads_by_name() {
    let before = json!({"keys": []});
    let after = json!({"keys": [{"name": "k"}]});
    assert_eq!(
        json_diff(Some(&before), Some(&after)),
        vec![line(
            "/keys/k",
            DiffOp::Added,
            None,
            Some(json!({"name": "k"}))
        )]
    );
}

#[test]
fn duplicate_or_missing_names_fall_back_to_indexes() {
    // The same provider twice (two models of one provider) cannot be matched by provider.
    let before = json!([{"provider": "a", "model": "x"}, {"provider": "a", "model": "y"}]);
    let after = json!([{"provider": "a", "model": "x"}, {"provider": "a", "model": "z"}]);
    assert_eq!(
        json_diff(Some(&before), Some(&after)),
        vec![line(
            "/1/model",
            DiffOp::Changed,
            Some(json!("y")),
            Some(json!("z"))
        )]
    );
    // One item without a name makes the whole array positional.
    let before = json!([{"name": "a"}, {"other": 1}]);
    let after = json!([{"name": "a"}]);
    assert_eq!(
        json_diff(Some(&before), Some(&after)),
        vec![line("/1", DiffOp::Removed, Some(json!({"other": 1})), None)]
    );
}

#[test]
fn scalar_arrays_compare_by_index() {
    let before = json!({"models": ["a", "b", "c"]});
    let after = json!({"models": ["a", "x"]});
    assert_eq!(
        json_diff(Some(&before), Some(&after)),
        vec![
            line(
                "/models/1",
                DiffOp::Changed,
                Some(json!("b")),
                Some(json!("x"))
            ),
            line("/models/2", DiffOp::Removed, Some(json!("c")), None),
        ]
    );
    let grown = json!({"models": ["a", "x", "y"]});
    assert_eq!(
        json_diff(Some(&after), Some(&grown)),
        vec![line("/models/2", DiffOp::Added, None, Some(json!("y")))]
    );
}

#[test]
fn name_takes_precedence_over_provider_when_both_identify() {
    let before = json!([{"name": "one", "provider": "p"}]);
    let after = json!([{"name": "two", "provider": "p"}]);
    let lines = json_diff(Some(&before), Some(&after));
    assert_eq!(
        lines
            .iter()
            .map(|l| (l.path.as_str(), l.op))
            .collect::<Vec<_>>(),
        vec![("/one", DiffOp::Removed), ("/two", DiffOp::Added)]
    );
}

#[test]
fn pointer_tokens_are_escaped() {
    let before = json!({"a/b": 1, "c~d": 1, "headers": [{"name": "x/y~z", "v": 1}]});
    let after = json!({"a/b": 2, "c~d": 2, "headers": [{"name": "x/y~z", "v": 2}]});
    let paths: Vec<String> = json_diff(Some(&before), Some(&after))
        .into_iter()
        .map(|l| l.path)
        .collect();
    assert_eq!(paths, vec!["/a~1b", "/c~0d", "/headers/x~1y~0z/v"]);
}

#[test]
fn a_document_replaced_by_a_scalar_is_changed_at_the_root() {
    let before = json!({"a": 1});
    let after = json!(null);
    assert_eq!(
        json_diff(Some(&before), Some(&after)),
        vec![line(
            "",
            DiffOp::Changed,
            Some(before.clone()),
            Some(after.clone())
        )]
    );
}

#[test]
fn views_serialise_without_empty_optionals() {
    let change = AuditChangeView {
        kind: "route".into(),
        name: "chat".into(),
        ..AuditChangeView::default()
    };
    assert_eq!(
        serde_json::to_value(&change).expect("serialises"),
        json!({"kind": "route", "name": "chat"})
    );
    let line = line("/a", DiffOp::Added, None, Some(json!(1)));
    assert_eq!(
        serde_json::to_value(&line).expect("serialises"),
        json!({"path": "/a", "op": "added", "after": 1})
    );
    let request: RollbackRequest = serde_json::from_value(json!({"to": 7})).expect("parses");
    assert_eq!(
        request,
        RollbackRequest {
            to: 7,
            dry_run: false,
            expected_revision: None
        }
    );
}

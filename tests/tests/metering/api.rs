//! Reading records back: `/api/logs` filters and cursor paging, `/api/logs/{id}`, `/api/usage`
//! grouped by consumer and model in JSON and CSV, and 422s for bad query parameters.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;
use switchyard_shared::{RequestLog, UsageRow};
use switchyard_tests::metering::{answer, completion_reply, is_barrier, micros, record_cost};
use switchyard_tests::{Gateway, GatewayOptions, Reply};

use super::{MODEL, chat, chat_stream, consumer_with_key, send, setup, setup_with};

/// The request ids `GET /api/logs?{query}` lists (one page of up to 500), barriers left out.
async fn ids(gateway: &Gateway, query: &str) -> BTreeSet<String> {
    let page = gateway.logs_page(&format!("limit=500&{query}")).await;
    page.items
        .iter()
        .filter(|log| !is_barrier(log))
        .map(|log| log.request_id.clone())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_filter_by_consumer_key_status_model_and_time() {
    let (gateway, mock) = setup_with(
        GatewayOptions::default(),
        json!({"retry": {"max_attempts": 1}}),
    )
    .await;
    let a = consumer_with_key(&gateway, json!({"name": "team-a"}), json!({"name": "ci"})).await;
    let b = consumer_with_key(&gateway, json!({"name": "team-b"}), json!({"name": "ci"})).await;
    let traffic = [
        ("a1", Some(a.key.as_str()), MODEL, 200),
        ("a2", Some(a.key.as_str()), MODEL, 200),
        ("a3", Some(a.key.as_str()), "metered-2", 200),
        ("b1", Some(b.key.as_str()), "metered-2", 200),
        ("b2", Some(b.key.as_str()), "nonesuch-1", 404),
        ("x1", None, MODEL, 500),
    ];
    for (id, key, model, status) in traffic {
        if status == 500 {
            mock.enqueue(Reply::error(500, "broken"));
        }
        let response = send(&gateway, key, &chat(model), Some(id)).await;
        assert_eq!(
            response.status.as_u16(),
            status,
            "{id}: {}",
            response.text()
        );
    }
    let mistyped = send(&gateway, Some(&a.mistyped()), &chat(MODEL), Some("x2")).await;
    mistyped.expect_status(401, "a mistyped key");
    gateway.log_barrier().await;

    let everything = set(&["a1", "a2", "a3", "b1", "b2", "x1", "x2"]);
    assert_eq!(ids(&gateway, "").await, everything);
    let cases: [(String, &[&str]); 13] = [
        ("consumer=team-a".into(), &["a1", "a2", "a3"]),
        ("consumer=team-b&status=4xx".into(), &["b2"]),
        ("status=4xx".into(), &["b2", "x2"]),
        ("status=5xx".into(), &["x1"]),
        ("status=error".into(), &["b2", "x1", "x2"]),
        ("status=200".into(), &["a1", "a2", "a3", "b1"]),
        ("status=401".into(), &["x2"]),
        ("model=metered-2".into(), &["a3", "b1"]),
        ("model=metered-1&consumer=team-a".into(), &["a1", "a2"]),
        (format!("key={}", b.id), &["b1", "b2"]),
        ("route=metered".into(), &["a1", "a2", "a3", "b1", "x1"]),
        ("provider=up&status=2xx".into(), &["a1", "a2", "a3", "b1"]),
        // An empty value filters nothing, as a form that sends every field would.
        (
            "consumer=&model=".into(),
            &["a1", "a2", "a3", "b1", "b2", "x1", "x2"],
        ),
    ];
    for (query, expected) in &cases {
        assert_eq!(
            ids(&gateway, query).await,
            set(expected),
            "GET /api/logs?{query}"
        );
    }
    // Every request arrived after 2000 and before 2999.
    assert_eq!(
        ids(&gateway, "since=2000-01-01T00:00:00Z").await,
        everything
    );
    assert!(ids(&gateway, "until=2000-01-01").await.is_empty());
    assert!(ids(&gateway, "since=2999-01-01T00:00:00Z").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_page_by_cursor_without_duplicates_or_gaps() {
    let (gateway, _mock) = setup().await;
    let sent: Vec<String> = (0..11).map(|i| format!("page-{i:02}")).collect();
    // Plain answers with usage alternate with streams without (whose tokens are estimated).
    for (i, id) in sent.iter().enumerate() {
        let body = if i % 2 == 0 {
            chat(MODEL)
        } else {
            chat_stream(MODEL)
        };
        send(&gateway, None, &body, Some(id))
            .await
            .expect_status(200, id);
    }
    gateway.log_barrier().await;

    // The barrier has no route, so this filter pages through exactly the eleven.
    let mut query = "route=metered&limit=4".to_owned();
    let mut pages = Vec::new();
    loop {
        let page = gateway.logs_page(&query).await;
        pages.push(
            page.items
                .iter()
                .map(|l| l.request_id.clone())
                .collect::<Vec<_>>(),
        );
        match page.next_cursor {
            Some(cursor) => query = format!("route=metered&limit=4&cursor={cursor}"),
            None => break,
        }
        assert!(pages.len() <= 3, "more pages than records: {pages:?}");
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [4, 4, 3], "{pages:?}");
    let listed: Vec<String> = pages.concat();
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    assert_eq!(
        listed, newest_first,
        "newest first, each once, none left out"
    );

    // One record by its id is the same as in the list.
    let page = gateway.logs_page("route=metered&limit=500").await;
    let listed: &RequestLog = page
        .items
        .iter()
        .find(|l| l.request_id == "page-05")
        .expect("listed");
    assert_eq!(&gateway.wait_log("page-05").await, listed);
    let missing = gateway.log_entry("no-such-request").await;
    missing.expect_status(404, "an unknown request id");
    missing.admin_error("not_found");
}

/// The usage rows of `group`, summed over their hourly buckets (a test may straddle an hour).
fn summed(rows: &[UsageRow], group: &str) -> UsageRow {
    let mut total = UsageRow::default();
    for row in rows.iter().filter(|r| r.group.as_deref() == Some(group)) {
        assert!(row.bucket.ends_with(":00:00Z"), "an hourly bucket: {row:?}");
        total.requests += row.requests;
        total.errors += row.errors;
        total.prompt_tokens += row.prompt_tokens;
        total.completion_tokens += row.completion_tokens;
        total.cost_usd += row.cost_usd;
        total.unpriced_requests += row.unpriced_requests;
    }
    total
}

fn consumer_of(log: &RequestLog) -> Option<&str> {
    log.consumer.as_deref()
}

fn model_of(log: &RequestLog) -> Option<&str> {
    log.model.as_deref()
}

/// What the usage rows of `group` must add up to: the records' own figures.
fn expected(logs: &[&RequestLog]) -> (u64, u64, u64, u64, i64) {
    let sum = |f: fn(&RequestLog) -> u64| logs.iter().map(|l| f(l)).sum::<u64>();
    (
        logs.len() as u64,
        sum(|l| u64::from(l.status >= 400)),
        sum(|l| l.prompt_tokens),
        sum(|l| l.completion_tokens),
        logs.iter()
            .filter(|l| l.cost_usd.is_some())
            .map(|l| record_cost(l))
            .sum(),
    )
}

fn actual(row: &UsageRow) -> (u64, u64, u64, u64, i64) {
    let cost = micros(row.cost_usd);
    (
        row.requests,
        row.errors,
        row.prompt_tokens,
        row.completion_tokens,
        cost,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_by_consumer_and_by_model_adds_up_the_records() {
    let (gateway, mock) = setup().await;
    let a = consumer_with_key(&gateway, json!({"name": "team-a"}), json!({"name": "ci"})).await;
    let b = consumer_with_key(&gateway, json!({"name": "team-b"}), json!({"name": "ci"})).await;
    let traffic = [
        (&a, MODEL, 11, 3),
        (&a, MODEL, 13, 5),
        (&a, "metered-2", 17, 7),
        (&b, "metered-2", 19, 2),
        (&b, MODEL, 23, 9),
    ];
    for (key, model, prompt, completion) in traffic {
        mock.enqueue(completion_reply(
            &answer("Counted.", prompt, completion),
            model,
        ));
        send(&gateway, Some(&key.key), &chat(model), None)
            .await
            .expect_status(200, model);
    }
    let refused = send(&gateway, Some(&b.key), &chat("nonesuch-1"), None).await;
    refused.expect_status(404, "an unknown model");
    let logs = gateway.settled_logs().await;
    assert_eq!(logs.len(), 6);

    let by_consumer = gateway.usage_report("group_by=consumer&bucket=hour").await;
    let by_model = gateway.usage_report("group_by=model&bucket=hour").await;
    for (group, rows, pick) in [
        (
            "team-a",
            &by_consumer.rows,
            consumer_of as fn(&RequestLog) -> Option<&str>,
        ),
        ("team-b", &by_consumer.rows, consumer_of),
        (MODEL, &by_model.rows, model_of),
        ("metered-2", &by_model.rows, model_of),
    ] {
        let mine: Vec<&RequestLog> = logs.iter().filter(|l| pick(l) == Some(group)).collect();
        assert_eq!(
            actual(&summed(rows, group)),
            expected(&mine),
            "usage of {group}: {rows:?}"
        );
    }
    // Spelled out, team-b made three requests, one an error, with 19 + 23 prompt and 2 + 9
    // completion tokens as the provider reported them.
    let team_b = summed(&by_consumer.rows, "team-b");
    assert_eq!(actual(&team_b), (3, 1, 42, 11, 42_000 + 22_000));
    assert_eq!(team_b.unpriced_requests, 0);

    // The CSV has a header row and the same figures.
    let response = gateway
        .admin_get("/api/usage?group_by=consumer&bucket=hour&format=csv")
        .await;
    response.expect_status(200, "usage as CSV");
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let text = response.text();
    let mut lines = text.lines();
    let header = "bucket,group,requests,errors,prompt_tokens,completion_tokens,cached_tokens,\
                  reasoning_tokens,cost_usd,unpriced_requests,cache_hits,cost_saved_usd";
    assert_eq!(lines.next(), Some(header));
    let csv: Vec<HashMap<&str, &str>> = lines
        .map(|line| header.split(',').zip(line.split(',')).collect())
        .collect();
    assert_eq!(
        csv.len(),
        by_consumer.rows.len(),
        "one CSV row per JSON row: {text}"
    );
    let mut from_csv: BTreeMap<&str, (u64, u64, u64, u64, i64)> = BTreeMap::new();
    for row in &csv {
        let number = |column: &str| row[column].parse::<u64>().expect("a whole number");
        let entry = from_csv.entry(row["group"]).or_default();
        entry.0 += number("requests");
        entry.1 += number("errors");
        entry.2 += number("prompt_tokens");
        entry.3 += number("completion_tokens");
        entry.4 += micros(row["cost_usd"].parse::<f64>().expect("a decimal cost"));
    }
    for group in ["team-a", "team-b"] {
        assert_eq!(
            from_csv[group],
            actual(&summed(&by_consumer.rows, group)),
            "CSV of {group}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_query_parameters_are_422_naming_each_field() {
    let gateway = Gateway::start().await;
    let response = gateway.admin_get("/api/usage?group_by=nonsense").await;
    response.expect_status(422, "an unknown group_by");
    assert_eq!(response.error_fields(), ["group_by"]);
    let response = gateway.admin_get("/api/usage?bucket=week&format=xml").await;
    response.expect_status(422, "an unknown bucket and format");
    assert_eq!(response.error_fields(), ["bucket", "format"]);
    let response = gateway
        .admin_get("/api/logs?status=7xx&limit=0&since=yesterday")
        .await;
    response.expect_status(422, "bad log filters");
    let mut fields = response.error_fields();
    fields.sort();
    assert_eq!(fields, ["limit", "since", "status"]);
}

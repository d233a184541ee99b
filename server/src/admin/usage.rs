//! `GET /api/logs`, `GET /api/logs/{request_id}` and `GET /api/usage`: the request log and the
//! usage reports, read from `usage.db`.
//!
//! Query strings are read by hand rather than into a typed struct, so that every bad parameter is
//! reported at once, by name, as a 422 like the rest of the API's validation errors (axum's typed
//! extractor stops at the first and answers 400 in its own words).

use std::borrow::Cow;
use std::fmt::Write as _;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::header;
use switchyard_shared::{LogsPage, RequestLog, UsageReport, ValidationErrors};

use super::AdminState;
use super::error::AdminApiError;
use crate::store::StoreError;
use crate::store::usage::{Bucket, GroupBy, LogFilter, MAX_LOG_LIMIT, StatusFilter, UsageQuery};

/// How far back `GET /api/usage` looks when `since` is not given.
const DEFAULT_USAGE_DAYS: i64 = 7;
const DAY_MS: i64 = 86_400_000;

/// The CSV header of `GET /api/usage?format=csv`: `UsageRow`'s fields, in their order.
const CSV_COLUMNS: [&str; 12] = [
    "bucket",
    "group",
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost_usd",
    "unpriced_requests",
    "cache_hits",
    "cost_saved_usd",
];

/// A query string as name/value pairs, in order.
pub(super) type RawParams = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// The query string's parameters. An empty value is no value, so a form that sends every field
/// (`?consumer=&model=gpt-4o`) filters only by the filled ones.
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    pub(super) fn read(raw: RawParams) -> Result<Params, AdminApiError> {
        let Query(pairs) = raw.map_err(|rejection| {
            AdminApiError::BadRequest(format!("malformed query string: {}", rejection.body_text()))
        })?;
        Ok(Params(pairs))
    }

    /// The last non-empty value of `name`, trimmed.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .find(|value| !value.is_empty())
    }

    pub(super) fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// `name` read by `parse`, or an error for that field saying what was expected.
    pub(super) fn parsed<T>(
        &self,
        name: &str,
        errors: &mut ValidationErrors,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let value = self.get(name)?;
        let parsed = parse(value);
        if parsed.is_none() {
            errors.add(name, format!("'{value}' is not {expected}"));
        }
        parsed
    }

    /// `since` and `until`, checked to be in that order.
    fn period(&self, errors: &mut ValidationErrors) -> (Option<i64>, Option<i64>) {
        const TIME: &str = "an RFC 3339 time (2025-01-31T12:00:00Z; write '+' in an offset as %2B) \
                            or a date (2025-01-31)";
        let since = self.parsed("since", errors, TIME, parse_time);
        let until = self.parsed("until", errors, TIME, parse_time);
        if let (Some(since), Some(until)) = (since, until)
            && until <= since
        {
            errors.add("until", "must be later than since");
        }
        (since, until)
    }
}

/// `GET /api/logs`: one page of records, newest first; `next_cursor` fetches the next.
pub async fn logs(
    State(state): State<AdminState>,
    raw: RawParams,
) -> Result<Json<LogsPage>, AdminApiError> {
    let filter = log_filter(&Params::read(raw)?)?;
    Ok(Json(state.usage_db.logs(&filter).await?))
}

/// `GET /api/logs/{request_id}`: the newest record with that id.
pub async fn log(
    State(state): State<AdminState>,
    Path(request_id): Path<String>,
) -> Result<Json<RequestLog>, AdminApiError> {
    match state.usage_db.log(&request_id).await? {
        Some(log) => Ok(Json(log)),
        None => Err(AdminApiError::Store(StoreError::NotFound(format!(
            "no request with id '{request_id}' in the log"
        )))),
    }
}

/// `GET /api/usage`: usage per bucket and group, as JSON or (`format=csv`) CSV.
pub async fn usage(
    State(state): State<AdminState>,
    raw: RawParams,
) -> Result<Response, AdminApiError> {
    let (query, format) = usage_query(&Params::read(raw)?, state.clock.now_ms())?;
    let report = state.usage_db.usage(&query).await?;
    Ok(match format {
        Format::Json => Json(report).into_response(),
        Format::Csv => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"usage.csv\"",
                ),
            ],
            csv(&report),
        )
            .into_response(),
    })
}

fn log_filter(params: &Params) -> Result<LogFilter, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let (since_ms, until_ms) = params.period(&mut errors);
    let filter = LogFilter {
        consumer: params.text("consumer"),
        key_id: params.parsed("key", &mut errors, "a key id (a number)", |value| {
            value.parse().ok()
        }),
        route: params.text("route"),
        provider: params.text("provider"),
        model: params.text("model"),
        status: params.parsed(
            "status",
            &mut errors,
            "a status (429), a class (2xx, 4xx, 5xx) or 'error'",
            StatusFilter::parse,
        ),
        since_ms,
        until_ms,
        limit: params.parsed(
            "limit",
            &mut errors,
            &format!("a number from 1 to {MAX_LOG_LIMIT}"),
            |value| {
                value
                    .parse()
                    .ok()
                    .filter(|limit| (1..=MAX_LOG_LIMIT).contains(limit))
            },
        ),
        cursor: params.parsed(
            "cursor",
            &mut errors,
            "a next_cursor from a previous page",
            |value| value.parse().ok().filter(|&cursor: &i64| cursor > 0),
        ),
    };
    errors.into_result().map(|()| filter)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// The report asked for; `since` defaults to seven days before `now_ms`.
fn usage_query(params: &Params, now_ms: i64) -> Result<(UsageQuery, Format), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let (since_ms, until_ms) = params.period(&mut errors);
    let group_by = params.parsed(
        "group_by",
        &mut errors,
        "one of consumer, key, route, provider, model",
        GroupBy::parse,
    );
    let bucket = params.parsed("bucket", &mut errors, "hour or day", Bucket::parse);
    let format = params.parsed("format", &mut errors, "json or csv", |value| match value {
        "json" => Some(Format::Json),
        "csv" => Some(Format::Csv),
        _ => None,
    });
    errors.into_result()?;
    let query = UsageQuery {
        group_by: group_by.unwrap_or_default(),
        bucket: bucket.unwrap_or_default(),
        since_ms: Some(since_ms.unwrap_or(now_ms - DEFAULT_USAGE_DAYS * DAY_MS)),
        until_ms,
    };
    Ok((query, format.unwrap_or(Format::Json)))
}

/// An RFC 3339 time, or a date (its midnight, UTC), in milliseconds since the epoch.
pub(super) fn parse_time(text: &str) -> Option<i64> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_millis());
    }
    // An unencoded `+` in a query string arrives as a space: `…T12:00:00 02:00`.
    if let Some((time, offset)) = text.rsplit_once(' ')
        && offset.len() == 5
        && offset.as_bytes()[2] == b':'
        && let Ok(at) = chrono::DateTime::parse_from_rfc3339(&format!("{time}+{offset}"))
    {
        return Some(at.timestamp_millis());
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// The report as CSV (RFC 4180, CRLF line ends), with [`CSV_COLUMNS`] as its header.
fn csv(report: &UsageReport) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for row in &report.rows {
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
            csv_field(&row.bucket),
            csv_field(row.group.as_deref().unwrap_or("")),
            row.requests,
            row.errors,
            row.prompt_tokens,
            row.completion_tokens,
            row.cached_tokens,
            row.reasoning_tokens,
            row.cost_usd,
            row.unpriced_requests,
            row.cache_hits,
            row.cost_saved_usd,
        );
    }
    out
}

/// One text field, quoted when it must be. Model names can come from clients, and a spreadsheet
/// runs a cell starting with `=`, `+`, `-` or `@` as a formula: such a value gets a leading `'`.
fn csv_field(value: &str) -> Cow<'_, str> {
    let value: Cow<'_, str> = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}").into()
    } else {
        value.into()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\"")).into()
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_shared::UsageRow;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
        )
    }

    fn fields(errors: ValidationErrors) -> Vec<String> {
        errors.0.into_iter().map(|error| error.field).collect()
    }

    #[test]
    fn times_are_rfc3339_or_dates() {
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Some(1_000));
        assert_eq!(parse_time("1970-01-01T01:00:00.250+01:00"), Some(250));
        assert_eq!(parse_time("1970-01-01T01:00:00 01:00"), Some(0));
        assert_eq!(parse_time("1970-01-02"), Some(DAY_MS));
        for bad in [
            "",
            "yesterday",
            "1970-13-01",
            "1970-01-01T25:00:00Z",
            "12345",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn log_filters_read_every_parameter() {
        let filter = log_filter(&params(&[
            ("consumer", "team-a"),
            ("key", "7"),
            ("route", " chat "),
            ("provider", "openai"),
            ("model", "gpt-4o"),
            ("status", "4xx"),
            ("since", "1970-01-01T00:00:01Z"),
            ("until", "1970-01-02"),
            ("limit", "20"),
            ("cursor", "99"),
            ("unknown", "ignored"),
        ]))
        .expect("valid");
        assert_eq!(
            filter,
            LogFilter {
                consumer: Some("team-a".into()),
                key_id: Some(7),
                route: Some("chat".into()),
                provider: Some("openai".into()),
                model: Some("gpt-4o".into()),
                status: Some(StatusFilter::Class(4)),
                since_ms: Some(1_000),
                until_ms: Some(DAY_MS),
                limit: Some(20),
                cursor: Some(99),
            }
        );
        // Empty values filter nothing.
        let empty = log_filter(&params(&[("consumer", ""), ("status", ""), ("limit", "")]));
        assert_eq!(empty.expect("valid"), LogFilter::default());
    }

    #[test]
    fn bad_log_parameters_are_all_reported() {
        let errors = log_filter(&params(&[
            ("key", "abc"),
            ("status", "7xx"),
            ("since", "1970-01-02"),
            ("until", "1970-01-01"),
            ("limit", "501"),
            ("cursor", "-3"),
        ]))
        .expect_err("invalid");
        assert_eq!(
            fields(errors),
            ["until", "key", "status", "limit", "cursor"]
        );
        let errors =
            log_filter(&params(&[("since", "soon"), ("limit", "0")])).expect_err("invalid");
        assert_eq!(fields(errors), ["since", "limit"]);
    }

    #[test]
    fn usage_queries_default_to_a_week_by_day_and_model() {
        let now = 100 * DAY_MS;
        let (query, format) = usage_query(&params(&[]), now).expect("valid");
        assert_eq!(
            query,
            UsageQuery {
                group_by: GroupBy::Model,
                bucket: Bucket::Day,
                since_ms: Some(93 * DAY_MS),
                until_ms: None,
            }
        );
        assert_eq!(format, Format::Json);
        let (query, format) = usage_query(
            &params(&[
                ("group_by", "key"),
                ("bucket", "hour"),
                ("since", "1970-01-02"),
                ("until", "1970-01-03"),
                ("format", "csv"),
            ]),
            now,
        )
        .expect("valid");
        assert_eq!(
            query,
            UsageQuery {
                group_by: GroupBy::Key,
                bucket: Bucket::Hour,
                since_ms: Some(DAY_MS),
                until_ms: Some(2 * DAY_MS),
            }
        );
        assert_eq!(format, Format::Csv);
        let errors = usage_query(
            &params(&[
                ("group_by", "team"),
                ("bucket", "week"),
                ("format", "xml"),
                ("until", "never"),
            ]),
            now,
        )
        .expect_err("invalid");
        assert_eq!(fields(errors), ["until", "group_by", "bucket", "format"]);
    }

    #[test]
    fn csv_has_the_usage_row_fields_as_its_header_and_quotes_what_it_must() {
        let row = UsageRow {
            bucket: "2025-01-01T00:00:00Z".into(),
            group: Some("=cmd,\"x\"".into()),
            requests: 3,
            errors: 1,
            prompt_tokens: 10,
            completion_tokens: 20,
            cached_tokens: 4,
            reasoning_tokens: 5,
            cost_usd: 0.001003,
            unpriced_requests: 1,
            cache_hits: 2,
            cost_saved_usd: 0.0005,
        };
        // The header names exactly the JSON fields, so the two formats cannot drift apart.
        let json = serde_json::to_value(&row).expect("serialises");
        let mut keys: Vec<&str> = json
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut columns = CSV_COLUMNS.to_vec();
        keys.sort_unstable();
        columns.sort_unstable();
        assert_eq!(keys, columns);
        let report = UsageReport {
            rows: vec![
                row,
                UsageRow {
                    group: None,
                    ..Default::default()
                },
            ],
        };
        assert_eq!(
            csv(&report),
            "bucket,group,requests,errors,prompt_tokens,completion_tokens,cached_tokens,reasoning_tokens,cost_usd,unpriced_requests,cache_hits,cost_saved_usd\r\n\
             2025-01-01T00:00:00Z,\"'=cmd,\"\"x\"\"\",3,1,10,20,4,5,0.001003,1,2,0.0005\r\n\
             ,,0,0,0,0,0,0,0,0,0,0\r\n"
        );
        assert_eq!(csv_field("gpt-4o"), "gpt-4o");
        assert_eq!(csv_field("-1"), "'-1");
    }
}

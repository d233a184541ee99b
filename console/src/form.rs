//! Turning form text into config values: numbers, status lists, optional strings and enum
//! names, with every unreadable input reported under the field path the server would use for it.

use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_shared::{FieldError, StatusPattern};

/// Collects errors of inputs that cannot be read at all, before the shared validation runs.
#[derive(Default)]
pub struct Parse {
    pub errors: Vec<FieldError>,
}

impl Parse {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    fn number<T: std::str::FromStr>(&mut self, field: &str, text: &str) -> Option<T> {
        let text = text.trim().replace('_', "");
        if text.is_empty() {
            return None;
        }
        match text.parse() {
            Ok(value) => Some(value),
            Err(_) => {
                self.add(field, "must be a whole number");
                None
            }
        }
    }

    /// An optional number: empty means unset.
    pub fn opt_u64(&mut self, field: &str, text: &str) -> Option<u64> {
        self.number(field, text)
    }

    pub fn opt_u32(&mut self, field: &str, text: &str) -> Option<u32> {
        self.number(field, text)
    }

    /// An optional amount such as dollars: empty means unset.
    pub fn opt_f64(&mut self, field: &str, text: &str) -> Option<f64> {
        let text = text.trim().trim_start_matches('$').replace(['_', ','], "");
        if text.is_empty() {
            return None;
        }
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() => Some(value),
            _ => {
                self.add(field, "must be a number such as 25 or 12.50");
                None
            }
        }
    }

    /// A number with a default for empty input.
    pub fn u64_or(&mut self, field: &str, text: &str, default: u64) -> u64 {
        self.number(field, text).unwrap_or(default)
    }

    pub fn u32_or(&mut self, field: &str, text: &str, default: u32) -> u32 {
        self.number(field, text).unwrap_or(default)
    }

    pub fn i32_or(&mut self, field: &str, text: &str, default: i32) -> i32 {
        self.number(field, text).unwrap_or(default)
    }

    /// A comma-separated list of status codes and classes (`401,403,429,5xx`); empty input
    /// takes the default list.
    pub fn statuses(
        &mut self,
        field: &str,
        text: &str,
        default: Vec<StatusPattern>,
    ) -> Vec<StatusPattern> {
        let tokens: Vec<&str> = text
            .split([',', ' ', ';'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if tokens.is_empty() {
            return default;
        }
        let mut patterns = Vec::new();
        for token in tokens {
            match serde_json::from_value(serde_json::Value::String(token.to_owned())) {
                Ok(pattern) => patterns.push(pattern),
                Err(_) => self.add(
                    field,
                    format!("'{token}' is not a status code (100–599) or a class such as 5xx"),
                ),
            }
        }
        patterns
    }
}

/// Status patterns as form text: `401,403,429,5xx`.
pub fn format_statuses(patterns: &[StatusPattern]) -> String {
    patterns
        .iter()
        .map(|p| match p {
            StatusPattern::Code(code) => code.to_string(),
            StatusPattern::Class(class) => format!("{class}xx"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Trimmed text, or `None` when empty.
pub fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// An enum's name on the wire (`credit_card`), which the form's selects use as their values.
pub fn wire_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The enum value a wire name stands for, or `None` for a name it does not know.
pub fn from_wire<T: DeserializeOwned>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// An optional number as form text.
pub fn opt_text<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// Rewrites the index in `list[i]...` through `map`, for lists whose empty rows were left out
/// of the request: the server's `api_keys[1]` is then the form's row `map[1]`.
pub fn remap_index(field: &str, list: &str, map: &[usize]) -> String {
    let Some(rest) = field
        .strip_prefix(list)
        .and_then(|rest| rest.strip_prefix('['))
    else {
        return field.to_owned();
    };
    let Some((index, tail)) = rest.split_once(']') else {
        return field.to_owned();
    };
    match index.parse::<usize>().ok().and_then(|i| map.get(i)) {
        Some(row) => format!("{list}[{row}]{tail}"),
        None => field.to_owned(),
    }
}

/// The shortest password the console accepts; the server checks it again.
pub const MIN_PASSWORD: usize = 8;

/// Checks a new username (when one is being chosen) and password pair before it is sent.
pub fn check_new_password(
    username: Option<&str>,
    password: &str,
    confirm: &str,
    password_field: &str,
    confirm_field: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut add = |field: &str, message: &str| {
        errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        })
    };
    if username.is_some_and(str::is_empty) {
        add("username", "must not be empty");
    }
    if password.chars().count() < MIN_PASSWORD {
        add(
            password_field,
            &format!("must be at least {MIN_PASSWORD} characters"),
        );
    }
    if confirm != password {
        add(confirm_field, "does not match the password");
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_reports_bad_ones() {
        let mut parse = Parse::default();
        assert_eq!(parse.opt_u64("a", ""), None);
        assert_eq!(parse.opt_u64("a", " 1_000 "), Some(1000));
        assert_eq!(parse.u32_or("b", "", 3), 3);
        assert_eq!(parse.u32_or("c", "x", 3), 3);
        assert_eq!(parse.errors.len(), 1);
        assert_eq!(parse.errors[0].field, "c");
        assert_eq!(parse.opt_f64("d", " $1,250.5 "), Some(1250.5));
        assert_eq!(parse.opt_f64("d", ""), None);
        assert_eq!(parse.opt_f64("e", "lots"), None);
        assert_eq!(parse.errors[1].field, "e");
    }

    #[test]
    fn status_lists_round_trip() {
        let mut parse = Parse::default();
        let list = parse.statuses("s", "401, 403,429 , 5xx", vec![]);
        assert_eq!(format_statuses(&list), "401,403,429,5xx");
        assert!(parse.errors.is_empty());
        let list = parse.statuses("s", "", vec![StatusPattern::Class(5)]);
        assert_eq!(list, vec![StatusPattern::Class(5)]);
        parse.statuses("s", "42,abc", vec![]);
        assert_eq!(parse.errors.len(), 2);
    }

    #[test]
    fn enum_names_round_trip() {
        use switchyard_shared::DetectorType;
        assert_eq!(wire_name(&DetectorType::CreditCard), "credit_card");
        assert_eq!(
            from_wire::<DetectorType>("us_ssn"),
            Some(DetectorType::UsSsn)
        );
        assert_eq!(from_wire::<DetectorType>("nope"), None);
    }

    #[test]
    fn remaps_list_indexes() {
        assert_eq!(
            remap_index("api_keys[1]", "api_keys", &[0, 2]),
            "api_keys[2]"
        );
        assert_eq!(remap_index("api_keys", "api_keys", &[0, 2]), "api_keys");
        assert_eq!(remap_index("name", "api_keys", &[0]), "name");
        assert_eq!(remap_index("api_keys[7]", "api_keys", &[0]), "api_keys[7]");
    }

    #[test]
    fn checks_a_new_password_and_its_confirmation() {
        let fields =
            |errors: Vec<FieldError>| errors.into_iter().map(|e| e.field).collect::<Vec<_>>();
        assert!(
            check_new_password(Some("admin"), "long enough", "long enough", "p", "c").is_empty()
        );
        assert_eq!(
            fields(check_new_password(Some(""), "short", "other", "p", "c")),
            ["username", "p", "c"]
        );
        assert_eq!(
            fields(check_new_password(
                None,
                "long enough",
                "long enoug",
                "p",
                "c"
            )),
            ["c"]
        );
    }
}

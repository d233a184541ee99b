//! Times for the metering pages: RFC 3339 read without the browser (so bucketing is testable),
//! the API's UTC form, today's UTC midnight, and compact local forms for tables and inputs.

/// Short English month names, for compact dates.
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An RFC 3339 time as `14:03:27` and `Dec 6` in the browser's time zone, for a table of recent
/// events; `None` when it cannot be read.
pub fn clock_and_day(rfc3339: &str) -> Option<(String, String)> {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(parse_ms(rfc3339)?));
    Some((
        format!(
            "{:02}:{:02}:{:02}",
            d.get_hours(),
            d.get_minutes(),
            d.get_seconds()
        ),
        format!("{} {}", MONTHS[d.get_month() as usize % 12], d.get_date()),
    ))
}

/// An RFC 3339 time as a `datetime-local` input's value, in the browser's time zone.
pub fn local_input_value(rfc3339: &str) -> String {
    let Some(ms) = parse_ms(rfc3339) else {
        return String::new();
    };
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// A time in Unix milliseconds as RFC 3339 in UTC, as the admin API takes it.
pub fn iso_from_ms(ms: f64) -> String {
    String::from(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms)).to_iso_string())
}

/// Unix milliseconds of an RFC 3339 time (or a `datetime-local` value, read in the browser's
/// time zone); `None` when it cannot be read.
pub fn parse_ms(text: &str) -> Option<f64> {
    let ms = js_sys::Date::parse(text.trim());
    (!ms.is_nan()).then_some(ms)
}

/// Unix seconds of an RFC 3339 time such as `2026-12-06T10:00:00Z` or `...T10:00:00.5+01:00`,
/// read without the browser so that bucketing is the same everywhere (and testable natively).
pub fn unix_from_rfc3339(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut ymd = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (ymd.next()??, ymd.next()??, ymd.next()??);
    // The offset starts at the first `Z`, `+` or `-` after the clock.
    let split = time.find(['Z', 'z', '+', '-']).unwrap_or(time.len());
    let (clock, offset) = time.split_at(split);
    let mut hms = clock.splitn(3, ':');
    let hour: i64 = hms.next()?.parse().ok()?;
    let minute: i64 = hms.next()?.parse().ok()?;
    let second: i64 = hms
        .next()
        .map(|s| s.split('.').next().unwrap_or("0").parse().ok())
        .unwrap_or(Some(0))?;
    let offset_secs = match offset {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let (h, m) = offset[1..].split_once(':').unwrap_or((&offset[1..], "0"));
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs)
}

/// The start of today in UTC, in Unix milliseconds.
pub fn utc_midnight_ms(now_ms: f64) -> f64 {
    const DAY_MS: f64 = 86_400_000.0;
    (now_ms / DAY_MS).floor() * DAY_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_utc_midnight() {
        assert_eq!(utc_midnight_ms(86_400_000.0 * 3.5), 86_400_000.0 * 3.0);
    }

    #[test]
    fn reads_rfc3339_times() {
        assert_eq!(unix_from_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            unix_from_rfc3339("2026-12-06T10:00:00Z"),
            Some(1_796_551_200)
        );
        assert_eq!(
            unix_from_rfc3339("2026-12-06T11:00:00.250+01:00"),
            Some(1_796_551_200)
        );
        assert_eq!(
            unix_from_rfc3339("2024-02-29T23:59:59-00:30"),
            Some(1_709_252_999)
        );
        assert_eq!(unix_from_rfc3339("yesterday"), None);
    }
}

//! Small formatting and browser helpers shared by the pages.

use std::sync::atomic::{AtomicU64, Ordering};

use wasm_bindgen::JsCast;

/// A fresh id for list rows, so that a row keeps its identity when others are added or removed.
pub fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `1234567` as `1,234,567`.
pub fn fmt_int(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// US dollars: four decimals under a dollar (`$0.0123`), two from a dollar up (`$1,234.57`).
pub fn fmt_usd(value: f64) -> String {
    let value = if value.is_finite() {
        value.max(0.0)
    } else {
        0.0
    };
    if value == 0.0 {
        return "$0.00".into();
    }
    // Below a dollar unless it rounds up to one, so `$0.99996` does not read `$1.0000`.
    if (value * 10_000.0).round() < 10_000.0 {
        return format!("${value:.4}");
    }
    let cents = (value * 100.0).round() as u64;
    format!("${}.{:02}", fmt_int(cents / 100), cents % 100)
}

/// A request's cost: dollars, or `unpriced` when its model has no price.
pub fn fmt_cost(value: Option<f64>) -> String {
    value.map_or_else(|| "unpriced".into(), fmt_usd)
}

/// A latency: `—` when unknown, milliseconds below ten seconds, else seconds.
pub fn fmt_ms(value: Option<u64>) -> String {
    match value {
        None => "—".into(),
        Some(ms) if ms < 10_000 => format!("{ms} ms"),
        Some(ms) => format!("{:.1} s", ms as f64 / 1000.0),
    }
}

/// A rate in 0..1 as a percentage, `—` when there was no traffic.
pub fn fmt_rate(value: Option<f64>) -> String {
    match value {
        None => "—".into(),
        Some(rate) if rate >= 1.0 => "100%".into(),
        Some(rate) => format!("{:.1}%", rate * 100.0),
    }
}

/// A duration in milliseconds for people: `850 ms`, `12 s`, `3 min`.
pub fn fmt_duration(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{} s", ms / 1_000)
    } else {
        format!("{} min", ms / 60_000)
    }
}

/// `HH:MM` in the browser's time zone for a Unix time in seconds.
pub fn fmt_clock(unix_seconds: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
        unix_seconds as f64 * 1000.0,
    ));
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

/// `HH:MM:SS` now, for "updated at" labels.
pub fn now_clock() -> String {
    let date = js_sys::Date::new_0();
    format!(
        "{:02}:{:02}:{:02}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}

/// An RFC 3339 time from the API in the browser's locale and time zone; unparsable text is
/// shown as it came.
pub fn fmt_timestamp(rfc3339: &str) -> String {
    let ms = js_sys::Date::parse(rfc3339);
    if ms.is_nan() {
        return rfc3339.to_owned();
    }
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

/// Now, in Unix seconds.
pub fn now_unix() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// Copies text to the clipboard. The Clipboard API exists only in secure contexts (https or
/// localhost), and an admin listener reached over plain http on another host is neither, so the
/// old `execCommand("copy")` on a temporary text area is the fallback.
pub async fn copy_text(text: &str) -> bool {
    let navigator = leptos::prelude::window().navigator();
    let has_clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into())
        .map(|c| !c.is_undefined() && !c.is_null())
        .unwrap_or(false);
    if has_clipboard {
        let promise = navigator.clipboard().write_text(text);
        if wasm_bindgen_futures::JsFuture::from(promise).await.is_ok() {
            return true;
        }
    }
    copy_with_exec_command(text).unwrap_or(false)
}

fn copy_with_exec_command(text: &str) -> Option<bool> {
    let document = leptos::prelude::document();
    let area: web_sys::HtmlTextAreaElement =
        document.create_element("textarea").ok()?.dyn_into().ok()?;
    area.set_value(text);
    let _ = area.set_attribute("readonly", "");
    let _ = area.set_attribute("style", "position:fixed;top:0;left:0;opacity:0");
    let body = document.body()?;
    body.append_child(&area).ok()?;
    area.select();
    let html: web_sys::HtmlDocument = document.dyn_into().ok()?;
    let copied = html.exec_command("copy").unwrap_or(false);
    area.remove();
    Some(copied)
}

/// Offers text as a file download, through a Blob URL and a temporary link.
pub fn download_text(filename: &str, mime: &str, text: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
        .map_err(|e| crate::api::js_message(&e))?;
    let url =
        web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| crate::api::js_message(&e))?;
    let document = leptos::prelude::document();
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| crate::api::js_message(&e))?
        .dyn_into()
        .map_err(|_| "not a link".to_owned())?;
    link.set_href(&url);
    link.set_download(filename);
    // Router links are intercepted by the app; `rel=external` tells the router to leave this one be.
    let _ = link.set_attribute("rel", "external");
    if let Some(body) = document.body() {
        let _ = body.append_child(&link);
        link.click();
        link.remove();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// Moves keyboard focus to the first input marked invalid, after the DOM has caught up.
pub fn focus_first_invalid() {
    leptos::prelude::request_animation_frame(|| {
        let element = leptos::prelude::document()
            .query_selector("[aria-invalid='true']")
            .ok()
            .flatten();
        if let Some(element) = element.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = element.focus();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(fmt_int(0), "0");
        assert_eq!(fmt_int(1234), "1,234");
        assert_eq!(fmt_int(1234567), "1,234,567");
        assert_eq!(fmt_ms(Some(12)), "12 ms");
        assert_eq!(fmt_ms(Some(12_500)), "12.5 s");
        assert_eq!(fmt_rate(Some(0.9876)), "98.8%");
        assert_eq!(fmt_rate(None), "—");
        assert_eq!(fmt_duration(5_000), "5 s");
    }

    #[test]
    fn formats_money() {
        assert_eq!(fmt_usd(0.0), "$0.00");
        assert_eq!(fmt_usd(0.00012), "$0.0001");
        assert_eq!(fmt_usd(0.5), "$0.5000");
        assert_eq!(fmt_usd(0.99996), "$1.00");
        assert_eq!(fmt_usd(12.3456), "$12.35");
        assert_eq!(fmt_usd(1234.5), "$1,234.50");
        assert_eq!(fmt_cost(None), "unpriced");
        assert_eq!(fmt_cost(Some(0.0123)), "$0.0123");
    }
}

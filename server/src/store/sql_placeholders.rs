//! A lint, run as a unit test: the store's SQL uses `$N` placeholders only.
//!
//! SQLite accepts both `?` and `$N`, PostgreSQL only `$N`, so a `?` that creeps back into the
//! store would work in every SQLite test and fail only on PostgreSQL. The test reads the store's
//! sources (all of `store.rs` and `store/`, the request log's `store/usage.rs` included) and
//! looks for `?` in the string literals that are SQL; the `?` operator and format strings
//! such as `{error:?}` are not string literals of SQL, so they are never flagged.

use std::path::{Path, PathBuf};

/// A string literal's text (escapes left as written) and the line it starts on.
struct Literal<'a> {
    line: usize,
    text: &'a str,
    /// The code before the literal, up to 40 bytes, to tell a query's argument.
    before: &'a str,
}

/// The string literals of Rust source `src`: plain, byte and raw ones. Comments, character
/// literals and lifetimes are skipped so that a quote inside them does not start a literal.
fn literals(src: &str) -> Vec<Literal<'_>> {
    let bytes = src.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            i += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        } else if rest.starts_with(b"/*") {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < bytes.len() {
                if bytes[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if bytes[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if rest[0] == b'\'' {
            // A character literal ('x', '\n', '\'', '\u{..}') or a lifetime ('a): a lifetime has
            // no closing quote right after its first character.
            if rest.get(1) == Some(&b'\\') {
                let close = rest[2..].iter().position(|&b| b == b'\'').unwrap_or(0);
                i += close + 3;
            } else if rest.get(2) == Some(&b'\'') {
                i += 3;
            } else {
                // A multi-byte character, or a lifetime.
                let len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                i += if rest.get(1 + len) == Some(&b'\'') {
                    len + 2
                } else {
                    1
                };
            }
        } else if (rest[0] == b'r' || rest.starts_with(b"br"))
            && (i == 0 || !is_ident(bytes[i - 1]))
            && {
                let start = if rest[0] == b'b' { 2 } else { 1 };
                let hashes = rest[start..].iter().take_while(|&&b| b == b'#').count();
                rest.get(start + hashes) == Some(&b'"')
            }
        {
            let start = if rest[0] == b'b' { 2 } else { 1 };
            let hashes = rest[start..].iter().take_while(|&&b| b == b'#').count();
            let body = i + start + hashes + 1;
            let closing = format!("\"{}", "#".repeat(hashes));
            let end = src[body..]
                .find(&closing)
                .map_or(bytes.len(), |at| body + at);
            found.push(literal(src, i, body, end));
            i = (end + closing.len()).min(bytes.len());
        } else if rest[0] == b'"'
            || (rest.starts_with(b"b\"") && (i == 0 || !is_ident(bytes[i - 1])))
        {
            let body = i + if rest[0] == b'b' { 2 } else { 1 };
            let mut end = body;
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            let end = end.min(bytes.len());
            found.push(literal(src, i, body, end));
            i = end + 1;
        } else {
            i += 1;
        }
    }
    found
}

fn literal(src: &str, start: usize, body: usize, end: usize) -> Literal<'_> {
    let mut from = start.saturating_sub(40);
    while !src.is_char_boundary(from) {
        from += 1;
    }
    Literal {
        line: src[..start].matches('\n').count() + 1,
        text: &src[body..end],
        before: &src[from..start],
    }
}

/// Whether a literal is SQL: an argument of one of sqlx's query functions, or text that starts
/// like a statement (SQL chosen in a `match` before it is passed on).
fn is_sql(literal: &Literal<'_>) -> bool {
    const QUERY_FUNCTIONS: [&str; 5] = [
        "query(",
        "query_as(",
        "query_scalar(",
        "raw_sql(",
        "begin_with(",
    ];
    const STATEMENTS: [&str; 11] = [
        "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "REPLACE", "CREATE", "DROP", "ALTER",
        "PRAGMA", "VALUES",
    ];
    let before = literal.before.trim_end();
    let before = before.strip_suffix('&').unwrap_or(before).trim_end();
    let argument = QUERY_FUNCTIONS.iter().any(|f| before.ends_with(f));
    let first_word = literal
        .text
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    argument || STATEMENTS.contains(&first_word)
}

/// Whether SQL text holds a `?` outside its own quoted strings and identifiers.
fn has_question_placeholder(sql: &str) -> bool {
    let mut quote = None;
    for c in sql.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, '?') => return true,
            _ => {}
        }
    }
    false
}

/// `?` placeholders in the SQL of `src`, as (line, literal) pairs.
fn offenders(src: &str) -> Vec<(usize, String)> {
    literals(src)
        .into_iter()
        .filter(|literal| is_sql(literal) && has_question_placeholder(literal.text))
        .map(|literal| (literal.line, literal.text.to_owned()))
        .collect()
}

/// The store's source files that must use `$N`: `store.rs` and everything under `store/`.
fn store_sources() -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("store.rs")];
    let mut dirs = vec![src.join("store")];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|error| {
            panic!("cannot list {}: {error}", dir.display());
        });
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn the_config_store_uses_numbered_placeholders_only() {
    let files = store_sources();
    assert!(files.len() > 5, "the store's sources were not found");
    let mut found = Vec::new();
    for path in files {
        let src = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        for (line, sql) in offenders(&src) {
            found.push(format!("{}:{line}: {sql}", path.display()));
        }
    }
    assert!(
        found.is_empty(),
        "SQL in the configuration store must use $1, $2… placeholders, not `?`:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_lint_finds_question_marks_in_sql_only() {
    // The sample is assembled so that this file's own literals hold no SQL with a `?`.
    let q = '?';
    let sample = format!(
        r##"
        fn f() -> Result<()> {{
            let x = parse(text)$1; // a comment with "a quote"
            let c = '"'; let l: &'static str = "SELECT 1";
            tracing::warn!("failed: {{error:{q}}}");
            let a = sqlx::query("SELECT id FROM t WHERE name = {q}").bind(name);
            let b = sqlx::query(&format!("SELECT COUNT(*) FROM {{table}} WHERE x = {q}1"));
            let sql = match kind {{ K::A => "DELETE FROM a WHERE id = {q}", K::B => "x" }};
            let raw = sqlx::query_scalar(r#"SELECT "{q}", '{q}' FROM t WHERE id = $1"#);
            let ok = sqlx::query("UPDATE t SET a = $1 WHERE id = $2")$2;
        }}
        "##
    );
    let lines: Vec<usize> = offenders(&sample).iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [6, 7, 8]);
}

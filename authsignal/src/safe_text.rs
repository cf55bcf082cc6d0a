//! Making text safe to show: in errors and logs (no tokens, no values a decoder quoted,
//! bounded length) and in HTML (escaped). The client uses these for its errors; the
//! `axum-authsignal` gate and the emulator use them for their pages and logs.

/// A short excerpt of a body for an error message, safe to log.
///
/// Bodies can hold tokens (a `track` answer carries one), so JSON string values under
/// token-like keys and anything shaped like a JWT are replaced by `[redacted]`, and the
/// excerpt is cut to [`EXCERPT_CHARS`] characters.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut json) => {
            redact_json(&mut json);
            json.to_string()
        }
        Err(_) => redact_jwts(&String::from_utf8_lossy(body)),
    };
    one_short_line(&text, EXCERPT_CHARS)
}

/// Text from outside (an error description Authsignal wrote, say) made safe to log: JWTs
/// redacted, control characters (line breaks that would forge log lines included) made
/// spaces, and cut to `max` characters.
pub(crate) fn log_safe(text: &str, max: usize) -> String {
    one_short_line(&redact_jwts(text), max)
}

fn one_short_line(text: &str, max: usize) -> String {
    let mut cut: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        cut.push('…');
    }
    cut
}

/// How many characters of a body an error keeps.
pub(crate) const EXCERPT_CHARS: usize = 160;

fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if value.is_string() && is_sensitive_key(key) {
                    *value = serde_json::Value::String("[redacted]".into());
                } else {
                    redact_json(value);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::String(text) => *text = redact_jwts(text),
        _ => {}
    }
}

fn is_sensitive_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("token") || key.contains("secret") || key.contains("password")
}

/// Replaces every run that looks like a JWT (`eyJ…` with two dots) by `[redacted]`.
pub(crate) fn redact_jwts(text: &str) -> String {
    let is_jwt_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("eyJ") {
        let run_len = rest[start..]
            .find(|c: char| !is_jwt_char(c))
            .unwrap_or(rest.len() - start);
        let run = &rest[start..start + run_len];
        out.push_str(&rest[..start]);
        if run.matches('.').count() >= 2 {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        rest = &rest[start + run_len..];
    }
    out.push_str(rest);
    out
}

/// A URL with the value of every `token` query parameter (and any JWT) redacted: the
/// pre-built UI's URL carries the track token.
pub fn redact_url_token(url: &str) -> String {
    let (before, query) = match url.split_once('?') {
        Some((before, query)) => (before, query),
        None => return redact_jwts(url),
    };
    let (query, fragment) = query
        .split_once('#')
        .map_or((query, None), |(q, f)| (q, Some(f)));
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.eq_ignore_ascii_case("token") => format!("{name}=[redacted]"),
            _ => pair.to_owned(),
        })
        .collect();
    let mut out = format!("{before}?{}", query.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    redact_jwts(&out)
}

/// Replaces every double-quoted run of a decoder message by `"…"`: serde names fields in
/// backticks but quotes the offending *values*, which may be tokens.
pub fn scrub_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (index, part) in message.split('"').enumerate() {
        if index % 2 == 0 {
            out.push_str(part);
        } else {
            out.push_str("\"…\"");
        }
    }
    out
}

/// Escapes text for an HTML text node or a double-quoted attribute.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_redacts_tokens_in_json_and_text() {
        let body = br#"{"state":"WEIRD","token":"abc.def.ghi","nested":{"accessToken":"x"},"note":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"}"#;
        let cut = excerpt(body);
        assert!(!cut.contains("abc.def.ghi"), "{cut}");
        assert!(!cut.contains("eyJhbGci"), "{cut}");
        assert!(cut.contains("WEIRD"));
        let text = excerpt(b"<html>token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln here</html>");
        assert_eq!(text, "<html>token [redacted] here</html>");
    }

    #[test]
    fn decoder_messages_lose_their_quoted_values() {
        let message =
            r#"invalid type: string "secret-token", expected a boolean at line 1 column 9"#;
        assert_eq!(
            scrub_quoted(message),
            r#"invalid type: string "…", expected a boolean at line 1 column 9"#
        );
        assert_eq!(
            scrub_quoted("missing field `state`"),
            "missing field `state`"
        );
    }

    #[test]
    fn excerpt_is_short_and_single_line() {
        let body = "x\n".repeat(1000);
        let cut = excerpt(body.as_bytes());
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(!cut.contains('\n'));
    }

    #[test]
    fn outside_text_is_redacted_capped_and_kept_on_one_line() {
        let text = "bad token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln\nFAKE log line";
        assert_eq!(log_safe(text, 100), "bad token [redacted] FAKE log line");
        assert_eq!(
            log_safe(&"a".repeat(500), 10),
            format!("{}…", "a".repeat(10))
        );
    }

    #[test]
    fn url_tokens_are_redacted() {
        assert_eq!(
            redact_url_token("http://ui.example/challenge?a=1&token=abc.def&b=2#x"),
            "http://ui.example/challenge?a=1&token=[redacted]&b=2#x"
        );
        assert_eq!(
            redact_url_token("http://ui.example/x"),
            "http://ui.example/x"
        );
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
        );
    }
}

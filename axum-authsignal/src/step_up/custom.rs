//! `custom` values for Authsignal's rules, read from the request as the handler will read it.
//!
//! The values sent to Authsignal must be the values the handler acts on, or a request can
//! be judged on one amount and pay another. So the body is read by the rules of axum's
//! own extractors, and anything they would read differently, or that two readers could
//! read differently, is refused before `track`:
//!
//! - `application/json` and `application/*+json` bodies are read as axum's `Json` reads
//!   them; a key given twice (at any depth) is refused, since parsers disagree on which
//!   copy wins;
//! - `application/x-www-form-urlencoded` bodies are read as axum's `Form` reads them; a
//!   field given twice is refused;
//! - `GET` and `HEAD` requests are read from the query string, as `Form` does;
//! - any other media type, a body with a non-identity `Content-Encoding`, or more than one
//!   `Content-Type` is refused with 415.
//!
//! Text that a handler can read as a number is sent as that number (see [`text_value`]):
//! a rule on a Number data point expects a number (Authsignal does not document what it
//! makes of text), so an amount sent as text may not be judged as the amount booked.

use std::collections::HashSet;
use std::fmt;

use bytes::Bytes;
use http::Method;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::answer::Refusal;
use super::binding;
use authsignal::types::CustomData;

/// The named top-level fields of the request's JSON or form body (or query, for `GET`).
/// Text that reads as a finite number, in a form or in a JSON string, is sent as that
/// number, so that a rule such as `amount > 1000` sees the amount the handler books
/// whichever way it was posted.
pub(crate) fn from_body(
    parts: &Parts,
    body: &Bytes,
    fields: &[String],
) -> Result<Option<CustomData>, Refusal> {
    if matches!(parts.method, Method::GET | Method::HEAD) {
        let query = parts.uri.query().unwrap_or("");
        return from_form(query.as_bytes(), fields);
    }
    if binding::content_encoding(&parts.headers).is_some() {
        return Err(Refusal::UnsupportedBody {
            reason: "the body is encoded (Content-Encoding); send it as is",
        });
    }
    // Two `Content-Type`s: axum reads the first, a proxy may read the last.
    let media = match parts.headers.get_all(CONTENT_TYPE).iter().count() {
        1 => binding::media_type(&parts.headers),
        _ => None,
    };
    match media.as_deref() {
        Some(media) if is_json(media) => from_json(body, fields),
        Some("application/x-www-form-urlencoded") => from_form(body, fields),
        _ => Err(Refusal::UnsupportedBody {
            reason: "send the body as application/json or application/x-www-form-urlencoded, \
                     with exactly one Content-Type",
        }),
    }
}

/// The media types axum's `Json` accepts.
fn is_json(media: &str) -> bool {
    media == "application/json"
        || media
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

fn from_json(body: &[u8], fields: &[String]) -> Result<Option<CustomData>, Refusal> {
    let Strict(value) = serde_json::from_slice::<Strict>(body).map_err(|err| {
        if err.to_string().starts_with(DUPLICATE_KEY) {
            Refusal::MalformedBody {
                reason: "a JSON key is given twice",
            }
        } else {
            Refusal::MalformedBody {
                reason: "the body is not valid JSON",
            }
        }
    })?;
    let Value::Object(object) = value else {
        return Ok(None);
    };
    let mut custom = CustomData::new();
    for field in fields {
        if let Some(value) = object.get(field) {
            custom.insert(field.clone(), json_value(value)?);
        }
    }
    Ok((!custom.is_empty()).then_some(custom))
}

/// A JSON value as a rule sees it: every string in it, at any depth, as [`text_value`]
/// reads it. A handler does not always read a JSON string as text: `rust_decimal`'s
/// `Decimal`, the usual type for money, deserializes `"5000"` as 5000, as does any field
/// read through `FromStr` (`serde_with`'s `DisplayFromStr`), so a handler can book a
/// number the client sent as a string.
fn json_value(value: &Value) -> Result<Value, Refusal> {
    Ok(match value {
        Value::String(text) => text_value(text)?,
        Value::Array(items) => {
            Value::Array(items.iter().map(json_value).collect::<Result<_, _>>()?)
        }
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, value)| Ok((key.clone(), json_value(value)?)))
                .collect::<Result<_, Refusal>>()?,
        ),
        other => other.clone(),
    })
}

fn from_form(form: &[u8], fields: &[String]) -> Result<Option<CustomData>, Refusal> {
    let mut seen = HashSet::new();
    let mut custom = CustomData::new();
    for (name, value) in form_urlencoded::parse(form) {
        if !seen.insert(name.clone()) {
            return Err(Refusal::MalformedBody {
                reason: "a form field is given twice",
            });
        }
        if fields.iter().any(|field| *field == name) {
            custom.insert(name.into_owned(), text_value(&value)?);
        }
    }
    Ok((!custom.is_empty()).then_some(custom))
}

/// Text as a rule must see it: a number when a handler can read it as one, that is when it
/// parses as an `f64` once trimmed of whitespace (`str::trim`, then `str::parse`: what a
/// handler that reads the field as a `String` does, and what `f64`'s own parse accepts,
/// `+5000`, `5e3` and `.5` among them); otherwise the text as it is.
///
/// Trimmed, not untrimmed: in a form `+` is a space, so `amount=+5000` is `" 5000"`.
/// A typed `f64` field refuses that (serde_urlencoded parses without trimming), but a
/// handler that trims books 5000, and sent as the text `" 5000"` it may not be judged as
/// 5000 (a rule on a Number data point expects a number). Sent as the number,
/// every reader that gets a number out of the text gets the one judged, and a stray space
/// a user typed is no error; refusing it would be as safe but turn that space into a 400.
///
/// `inf` or `NaN` read as numbers to a handler's `f64` but cannot be sent as one: refused.
fn text_value(text: &str) -> Result<Value, Refusal> {
    match text.trim().parse::<f64>() {
        Ok(number) => serde_json::Number::from_f64(number)
            .map(Value::Number)
            .ok_or(Refusal::MalformedBody {
                reason: "a number in the body is not finite",
            }),
        Err(_) => Ok(Value::String(text.to_owned())),
    }
}

const DUPLICATE_KEY: &str = "duplicate key";

/// A JSON value that refuses objects with a key given twice, at any depth.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(value.into())
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(value.into())
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(DUPLICATE_KEY));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn post(content_type: &str) -> Parts {
        request("POST", "/w", &[("content-type", content_type)])
    }

    fn fields() -> Vec<String> {
        vec!["amount".into(), "currency".into()]
    }

    fn read(parts: &Parts, body: &'static [u8]) -> Result<Option<CustomData>, Refusal> {
        from_body(parts, &Bytes::from_static(body), &fields())
    }

    #[test]
    fn json_and_form_bodies_give_the_same_values() {
        let json = read(
            &post("application/json"),
            br#"{"amount":1500,"currency":"NZD","other":1}"#,
        )
        .unwrap()
        .unwrap();
        let form = read(
            &post("application/x-www-form-urlencoded"),
            b"amount=1500&currency=NZD&other=1",
        )
        .unwrap()
        .unwrap();
        assert_eq!(json.get("amount").and_then(Value::as_f64), Some(1500.0));
        assert_eq!(form.get("amount").and_then(Value::as_f64), Some(1500.0));
        assert_eq!(form.get("currency"), Some(&Value::String("NZD".into())));
        assert!(!form.contains_key("other"));
    }

    #[test]
    fn json_types_are_read_as_axum_reads_them() {
        for media in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            let custom = read(&post(media), br#"{"amount":5}"#).unwrap().unwrap();
            assert_eq!(custom["amount"], 5, "{media}");
        }
    }

    #[test]
    fn get_requests_are_read_from_the_query_as_form_does() {
        let custom = read(&request("GET", "/w?amount=5000", &[]), b"")
            .unwrap()
            .unwrap();
        assert_eq!(custom["amount"], 5000.0);
    }

    #[test]
    fn each_media_type_is_read_as_its_own_extractor_reads_it() {
        // The bytes the security review used: a form reader sees amount=5000, a JSON
        // reader 1000000. Each is read as its type says, and the retry is bound to that
        // type (binding.rs), so the handler cannot read the other value.
        let body: &'static [u8] = br#"{"amount":1000000,"payee":"x","z":"&amount=5000&"}"#;
        let as_form = read(&post("application/x-www-form-urlencoded"), body)
            .unwrap()
            .unwrap();
        assert_eq!(as_form["amount"], 5000.0);
        let as_json = read(&post("application/json"), body).unwrap().unwrap();
        assert_eq!(as_json["amount"], 1_000_000);
    }

    #[test]
    fn what_two_readers_could_read_differently_is_refused() {
        let cases: &[(Parts, &'static [u8])] = &[
            (post("application/json"), br#"{"amount":1,"amount":5000}"#),
            (post("application/json"), br#"{"a":{"b":1,"b":2}}"#),
            (post("application/json"), br#"[{"a":1,"a":2}]"#),
            (post("application/json"), b"{not json"),
            (post("application/json"), b""),
            (
                post("application/x-www-form-urlencoded"),
                b"amount=1&amount=5000",
            ),
            (request("GET", "/w?amount=1&amount=5000", &[]), b""),
            (post("text/plain"), b"amount=5000"),
            (post("application/xml"), b"<amount>5000</amount>"),
            (post("multipart/form-data; boundary=x"), b"--x--"),
            (request("POST", "/w", &[]), br#"{"amount":5000}"#),
            (
                request(
                    "POST",
                    "/w",
                    &[
                        ("content-type", "application/json"),
                        ("content-type", "application/x-www-form-urlencoded"),
                    ],
                ),
                br#"{"amount":5000}"#,
            ),
            (
                request(
                    "POST",
                    "/w",
                    &[
                        ("content-type", "application/json"),
                        ("content-encoding", "gzip"),
                    ],
                ),
                br#"{"amount":5000}"#,
            ),
        ];
        for (parts, body) in cases {
            let result = read(parts, body);
            assert!(
                result.is_err(),
                "{} {:?} {:?}: {result:?}",
                parts.method,
                parts.headers,
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn non_finite_form_numbers_are_refused() {
        for body in [
            &b"amount=inf"[..],
            b"amount=NaN",
            b"amount=-infinity",
            b"amount=+inf",
            b"amount=1e400",
        ] {
            assert!(
                read(&post("application/x-www-form-urlencoded"), body).is_err(),
                "{body:?}"
            );
        }
        let custom = read(&post("application/x-www-form-urlencoded"), b"currency=info")
            .unwrap()
            .unwrap();
        assert_eq!(custom["currency"], "info");
    }

    #[test]
    fn text_that_reads_as_a_number_once_trimmed_is_sent_as_that_number() {
        // `+` is a space in a form: each of these is 5000 to a handler that trims.
        let form: &[&'static [u8]] = &[
            b"amount=+5000",
            b"amount=5000%20",
            b"amount=%095000",
            b"amount=5000%0A",
            b"amount=%2B5000",
            b"amount=5e3",
        ];
        for body in form {
            let custom = read(&post("application/x-www-form-urlencoded"), body)
                .unwrap()
                .unwrap();
            assert_eq!(
                custom["amount"],
                5000.0,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        let custom = read(&request("GET", "/w?amount=+5000", &[]), b"")
            .unwrap()
            .unwrap();
        assert_eq!(custom["amount"], 5000.0);
        let json: &[&'static [u8]] = &[
            br#"{"amount":"5000"}"#,
            br#"{"amount":" 5000"}"#,
            br#"{"amount":"5000\n"}"#,
            br#"{"amount":"\t5000"}"#,
        ];
        for body in json {
            let custom = read(&post("application/json"), body).unwrap().unwrap();
            assert_eq!(
                custom["amount"],
                5000.0,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        let nested = read(
            &post("application/json"),
            br#"{"amount":{"value":[" 5000"],"currency":"NZD"}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            nested["amount"],
            serde_json::json!({"value": [5000.0], "currency": "NZD"})
        );
    }

    #[test]
    fn text_that_is_no_number_stays_text() {
        for (body, text) in [
            (&b"amount=5+000"[..], "5 000"),
            (b"amount=5%2C000", "5,000"),
            (b"amount=", ""),
            (b"amount=0x10", "0x10"),
        ] {
            let custom = read(&post("application/x-www-form-urlencoded"), body)
                .unwrap()
                .unwrap();
            assert_eq!(custom["amount"], text, "{text:?}");
        }
        let custom = read(&post("application/json"), br#"{"amount":" 5 000 "}"#)
            .unwrap()
            .unwrap();
        assert_eq!(custom["amount"], " 5 000 ");
    }

    #[test]
    fn non_finite_text_in_json_is_refused() {
        for body in [
            &br#"{"amount":"NaN"}"#[..],
            br#"{"amount":" inf"}"#,
            br#"{"amount":["1e400"]}"#,
        ] {
            assert!(read(&post("application/json"), body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn identity_encoding_and_non_objects_are_fine() {
        let parts = request(
            "POST",
            "/w",
            &[
                ("content-type", "application/json"),
                ("content-encoding", "identity"),
            ],
        );
        assert!(read(&parts, br#"{"amount":5}"#).unwrap().is_some());
        assert_eq!(read(&post("application/json"), b"[1]").unwrap(), None);
    }
}

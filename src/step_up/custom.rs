//! `custom` values for Authsignal's rules, taken from the request body.

use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use serde_json::Value;

use crate::client::types::CustomData;

pub(crate) type CustomFn = Arc<dyn Fn(&Parts, &Bytes) -> Option<CustomData> + Send + Sync>;

/// The named top-level fields of a JSON or form body. A form value that reads as a number
/// is sent as a number, so that a rule such as `amount > 1000` sees the same value
/// whichever way the amount was posted.
pub(crate) fn from_body(parts: &Parts, body: &Bytes, fields: &[String]) -> Option<CustomData> {
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut custom = CustomData::new();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        for (name, value) in form_urlencoded::parse(body) {
            if fields.iter().any(|field| *field == name) && !custom.contains_key(name.as_ref()) {
                custom.insert(name.into_owned(), form_value(&value));
            }
        }
    } else if let Ok(Value::Object(json)) = serde_json::from_slice::<Value>(body) {
        for field in fields {
            if let Some(value) = json.get(field) {
                custom.insert(field.clone(), value.clone());
            }
        }
    }
    (!custom.is_empty()).then_some(custom)
}

fn form_value(value: &str) -> Value {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|number| number.is_finite())
        .and_then(serde_json::Number::from_f64)
        .map_or_else(|| Value::String(value.to_owned()), Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(content_type: &str) -> Parts {
        http::Request::builder()
            .header(CONTENT_TYPE, content_type)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn json_and_form_bodies_give_the_same_values() {
        let fields = ["amount".to_owned(), "currency".to_owned()];
        let json = from_body(
            &parts("application/json"),
            &Bytes::from_static(br#"{"amount":1500,"currency":"NZD","other":1}"#),
            &fields,
        )
        .unwrap();
        let form = from_body(
            &parts("application/x-www-form-urlencoded"),
            &Bytes::from_static(b"amount=1500&currency=NZD&other=1"),
            &fields,
        )
        .unwrap();
        assert_eq!(json.get("amount").and_then(Value::as_f64), Some(1500.0));
        assert_eq!(form.get("amount").and_then(Value::as_f64), Some(1500.0));
        assert_eq!(form.get("currency"), Some(&Value::String("NZD".into())));
        assert!(!form.contains_key("other"));
    }

    #[test]
    fn other_bodies_give_nothing() {
        let fields = ["amount".to_owned()];
        assert_eq!(
            from_body(
                &parts("text/plain"),
                &Bytes::from_static(b"amount=1"),
                &fields
            ),
            None
        );
        assert_eq!(
            from_body(
                &parts("application/json"),
                &Bytes::from_static(b"[1]"),
                &fields
            ),
            None
        );
    }
}

//! How the evaluator is shown a raw value: strings as they are, other scalars parsed, objects as
//! their text (the module docs of `event/` say why).

use crate::detect::raw;
use rsigma_eval::event::EventValue;
use serde_json::Value;
use std::borrow::Cow;

/// A raw value as the evaluator gets it: strings without escapes borrowed, the rest parsed.
pub(super) fn present_raw(raw: &[u8]) -> Option<EventValue<'_>> {
    if let Some(s) = raw::plain_string(raw) {
        return Some(EventValue::Str(Cow::Borrowed(s)));
    }
    let v: Value = serde_json::from_slice(raw).ok()?;
    Some(present_owned(&v))
}

/// [`present`], owning its strings.
pub(super) fn present_owned(v: &Value) -> EventValue<'static> {
    match present(v) {
        EventValue::Str(s) => EventValue::Str(Cow::Owned(s.into_owned())),
        EventValue::Array(_) => match v {
            Value::Array(a) => EventValue::Array(a.iter().map(present_owned).collect()),
            _ => EventValue::Null,
        },
        EventValue::Int(n) => EventValue::Int(n),
        EventValue::Float(f) => EventValue::Float(f),
        EventValue::Bool(b) => EventValue::Bool(b),
        EventValue::Null => EventValue::Null,
        EventValue::Map(_) => EventValue::Null,
    }
}

/// A value as the evaluator gets it: objects as their text (see the module docs).
fn present(v: &Value) -> EventValue<'_> {
    match v {
        Value::String(s) => EventValue::Str(Cow::Borrowed(s)),
        Value::Number(n) => {
            n.as_i64().map_or(EventValue::Float(n.as_f64().unwrap_or(f64::NAN)), EventValue::Int)
        }
        Value::Bool(b) => EventValue::Bool(*b),
        Value::Null => EventValue::Null,
        Value::Array(a) => EventValue::Array(a.iter().map(present).collect()),
        Value::Object(_) => EventValue::Str(Cow::Owned(as_text(v))),
    }
}

/// The text of a value: compact JSON, with strings written as they are (see the module docs).
pub fn as_text(v: &Value) -> String {
    let mut out = String::new();
    write_text(v, &mut out, 64);
    out
}

fn write_text(v: &Value, out: &mut String, depth: usize) {
    if depth == 0 {
        return;
    }
    match v {
        Value::String(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_text(x, out, depth - 1);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(k);
                out.push_str("\":");
                write_text(x, out, depth - 1);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

//! The reference readings the lazy [`RecordView`] is tested against (test builds only): the
//! record split by serde and its fields followed in parsed trees, as the evaluator read events
//! before fields were read from raw bytes. `detect::corpus_tests` checks both agree on every field
//! the bundled rules name.

use super::{present_owned, Field, Key, RecordView, DEPTH};
use rsigma_eval::event::EventValue;
use serde::de::{Deserializer, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;

impl<'a> RecordView<'a> {
    /// The value of a top-level field, parsed.
    fn value(&self, key: &str) -> Option<Value> {
        serde_json::from_slice(self.top(key)?).ok()
    }

    /// The view as serde splits it, for tests.
    pub fn new_parsed(raw: &'a [u8]) -> Option<Self> {
        let mut de = serde_json::Deserializer::from_slice(raw);
        let fields = de.deserialize_map(TopLevel).ok()?;
        de.end().ok()?;
        let (next, backslash, whole) = (Cell::new(None), OnceCell::new(), OnceCell::new());
        let (absent_roots, objects) = (RefCell::new(Vec::new()), RefCell::new(Vec::new()));
        let fields = RefCell::new(fields);
        Some(RecordView { raw, top: None, fields, next, backslash, absent_roots, objects, whole })
    }

    /// What the evaluator got before fields were read from raw bytes: a parsed tree followed
    /// (the reference [`Event::get_field`] must agree with, tested).
    pub fn get_field_parsed(&self, path: &str) -> Option<EventValue<'_>> {
        if let Some(v) = self.value(path) {
            return Some(present_owned(&v));
        }
        let (root, rest) = path.split_once('.')?;
        let mut found = Vec::new();
        let root = self.value(root)?;
        follow(&root, rest, &mut found, DEPTH);
        match found.len() {
            0 => None,
            1 => Some(present_owned(found[0])),
            _ => Some(EventValue::Array(found.into_iter().map(present_owned).collect())),
        }
    }
}

/// The evaluator's reading of `path` below a parsed `v` (what [`RecordView::follow_raw`] must find, tested); through an array, every element (Sigma's any-member
/// semantics). A key holding dots itself is tried whole first.
fn follow<'v>(v: &'v Value, path: &str, out: &mut Vec<&'v Value>, depth: usize) {
    if depth == 0 {
        return;
    }
    match v {
        Value::Object(m) => {
            if let Some(x) = m.get(path) {
                out.push(x);
            } else if let Some((head, rest)) = path.split_once('.') {
                if let Some(x) = m.get(head) {
                    follow(x, rest, out, depth - 1);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| follow(x, path, out, depth - 1)),
        _ => {}
    }
}

/// Reads the top level of an object into fields, borrowing keys and values where it can.
struct TopLevel;

impl<'de> Visitor<'de> for TopLevel {
    type Value = Vec<Field<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::with_capacity(24);
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let raw: &'de serde_json::value::RawValue = map.next_value()?;
            let key = match key.0 {
                Cow::Borrowed(k) => Cow::Borrowed(k.as_bytes()),
                Cow::Owned(k) => Cow::Owned(k.into_bytes()),
            };
            fields.push(Field { key, raw: raw.get().as_bytes() });
        }
        Ok(fields)
    }
}

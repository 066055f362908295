//! A CloudTrail record as Sigma's evaluator sees it ([`RecordView`]), read lazily from its bytes.
//!
//! Why not `serde_json::Value`: building the whole tree of every event costs more than the rest of
//! the pipeline's work on it, while the rules mostly ask for `eventSource` and `eventName`. So the
//! top level is split into keys and raw values in one scan (no allocation below the top), and a
//! value is parsed only when a rule asks for a field under it, once per event.
//!
//! Why objects are also text: CloudTrail writes `requestParameters`, `responseElements`,
//! `additionalEventData` and `serviceEventDetails` as JSON objects, while some SigmaHQ rules match
//! them as strings (`requestParameters|contains: 'Suspended'`, or quoted fragments of a policy
//! document that CloudTrail nests as an escaped string). A field that names a whole object (or
//! array) is therefore presented as its text: the compact JSON with string contents written as they
//! are (unescaped), so `"s3:GetObject"` inside an embedded policy document matches too. Paths below
//! it (`responseElements.ConsoleLogin`) still reach the nested values.

use super::raw;
use crate::transform::TopLevel;
use rsigma_eval::event::{Event, EventValue, JsonEvent};
use serde::de::{Deserializer, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;

#[cfg(test)]
mod parsed;
mod text;

pub use text::as_text;
use text::{present_owned, present_raw};

/// One top-level field: its name and its raw JSON.
struct Field<'a> {
    /// The key's bytes (unescaped).
    key: Cow<'a, [u8]>,
    raw: &'a [u8],
}

/// A record's fields, read on demand (see the module docs).
pub struct RecordView<'a> {
    raw: &'a [u8],
    /// Where the walker found the top-level members, when it was asked: then they are looked up
    /// there, and `fields` is filled only for the rules that want them all.
    top: Option<&'a TopLevel>,
    /// The top-level fields read so far, in order.
    fields: RefCell<Vec<Field<'a>>>,
    /// Where the next top-level member starts; `None` once all are read.
    next: Cell<Option<usize>>,
    /// Whether the record holds a `\` anywhere (then a key may be written with escapes).
    backslash: OnceCell<bool>,
    /// Roots of dotted names (`userIdentity` of `userIdentity.type`) that the unread rest of the
    /// top level was found not to hold as `"root.` (it only shrinks, so they stay absent).
    absent_roots: RefCell<Vec<String>>,
    /// Objects below the top whose members were read, by where their bytes are: `userIdentity`
    /// is followed once per path a rule names. At most [`REMEMBERED`]; `None`: a key that cannot
    /// be read (only in an invalid record).
    objects: RefCell<Vec<(&'a [u8], Option<Members<'a>>)>>,
    whole: OnceCell<Value>,
}

/// An object's members: key (unescaped) and raw value, in order.
type Members<'a> = Vec<(Cow<'a, [u8]>, &'a [u8])>;

/// How many objects a view remembers the members of (paths through long arrays go uncached).
const REMEMBERED: usize = 8;

/// Sigma's `follow` depth: deeper paths find nothing.
const DEPTH: usize = 64;

impl<'a> RecordView<'a> {
    /// The view of `raw`, a record the transform's walker accepted (valid JSON); `None` when it
    /// is not a JSON object. Its top level is read only as far as the fields asked for (the
    /// first of a repeated key counts, as before); an invalid record is read as far as it is
    /// valid.
    pub fn new(raw: &'a [u8]) -> Option<Self> {
        let next = raw::open(raw)?;
        Some(RecordView {
            raw,
            top: None,
            fields: RefCell::new(Vec::with_capacity(24)),
            next: Cell::new(Some(next)),
            backslash: OnceCell::new(),
            absent_roots: RefCell::new(Vec::new()),
            objects: RefCell::new(Vec::new()),
            whole: OnceCell::new(),
        })
    }

    /// The view of `raw`, an event the transform's walker accepted and noted the top-level
    /// members of in `top` ([`crate::transform::Transform::encode_top`]): nothing is scanned for
    /// a top-level field (the first of a repeated key counts, as in [`RecordView::new`]).
    pub fn walked(raw: &'a [u8], top: &'a TopLevel) -> Self {
        RecordView {
            raw,
            top: Some(top),
            fields: RefCell::new(Vec::new()),
            next: Cell::new(None),
            backslash: OnceCell::new(),
            absent_roots: RefCell::new(Vec::new()),
            objects: RefCell::new(Vec::new()),
            whole: OnceCell::new(),
        }
    }

    /// The raw value of the first top-level field named `key`, reading on as far as needed.
    fn field(&self, key: &str) -> Option<&'a [u8]> {
        if let Some(top) = self.top {
            return top.first(self.raw, key.as_bytes());
        }
        let found = self.fields.borrow().iter().find(|f| *f.key == *key.as_bytes()).map(|f| f.raw);
        found.or_else(|| self.read_until(Some(key)))
    }

    /// Reads top-level members until one named `key` (returned), or all of them.
    fn read_until(&self, key: Option<&str>) -> Option<&'a [u8]> {
        let mut fields = self.fields.borrow_mut();
        while let Some(at) = self.next.get() {
            let raw::Step::Member { key: quoted, escaped, value, next } = raw::member_at(self.raw, at) else {
                self.next.set(None);
                break;
            };
            self.next.set(match next {
                raw::Next::More(n) => Some(n),
                raw::Next::Closed(_) => None,
            });
            let Some(name) = raw::key_bytes(quoted, escaped) else { continue };
            let wanted = key.is_some_and(|k| *name == *k.as_bytes());
            fields.push(Field { key: name, raw: value });
            if wanted {
                return Some(value);
            }
        }
        None
    }

    /// [`RecordView::field`] for a name with a dot, which CloudTrail never writes at the top: the
    /// rest of the record is read for it only when its bytes may hold it (`"root.` as written, or
    /// a `\` that could spell it otherwise).
    fn dotted_field(&self, key: &str) -> Option<&'a [u8]> {
        if let Some(top) = self.top {
            return top.first(self.raw, key.as_bytes());
        }
        let found = self.fields.borrow().iter().find(|f| *f.key == *key.as_bytes()).map(|f| f.raw);
        if found.is_some() {
            return found;
        }
        let at = self.next.get()?;
        let backslash = *self.backslash.get_or_init(|| memchr::memchr(b'\\', self.raw).is_some());
        let root = key.split('.').next().unwrap_or(key);
        if !backslash {
            if self.absent_roots.borrow().iter().any(|r| r == root) {
                return None;
            }
            if !raw::quoted_prefix_occurs(&self.raw[at..], root) {
                self.absent_roots.borrow_mut().push(root.to_string());
                return None;
            }
        }
        self.read_until(Some(key))
    }

    /// The top-level field named `path` (a dotted name read as [`RecordView::dotted_field`]).
    fn top(&self, path: &str) -> Option<&'a [u8]> {
        if path.contains('.') {
            self.dotted_field(path)
        } else {
            self.field(path)
        }
    }

    /// Calls `out` with each raw value the evaluator finds at `path` (see [`Event::get_field`]
    /// below), in order.
    pub fn leaves(&self, path: &str, out: &mut dyn FnMut(&'a [u8])) {
        if let Some(raw) = self.top(path) {
            out(raw);
            return;
        }
        let Some((root, rest)) = path.split_once('.') else { return };
        if let Some(raw) = self.field(root) {
            self.follow_raw(raw, rest, out, DEPTH);
        }
    }

    /// [`follow`] on raw JSON: the same values, found without building the tree. As in a
    /// `serde_json` map, the last of a repeated key is the one that counts.
    fn follow_raw(&self, v: &'a [u8], path: &str, out: &mut dyn FnMut(&'a [u8]), depth: usize) {
        if depth == 0 {
            return;
        }
        match v.first() {
            Some(b'{') => {
                let head = path.split_once('.');
                // Only in an invalid record (the walker accepts no such key): nothing is found.
                let Some((whole, below)) = self.member_values(v, path, head.map(|(h, _)| h)) else { return };
                if let Some(x) = whole {
                    out(x);
                } else if let (Some(x), Some((_, rest))) = (below, head) {
                    self.follow_raw(x, rest, out, depth - 1);
                }
            }
            Some(b'[') => {
                raw::elements(v, |x| self.follow_raw(x, path, out, depth - 1));
            }
            _ => {}
        }
    }

    /// The values of the last members of the object `v` named `path` and `head`; `None` when a
    /// key cannot be read. The members are read once per object (up to [`REMEMBERED`] objects).
    #[allow(clippy::type_complexity)]
    fn member_values(
        &self,
        v: &'a [u8],
        path: &str,
        head: Option<&str>,
    ) -> Option<(Option<&'a [u8]>, Option<&'a [u8]>)> {
        let pick = |members: &Members<'a>| {
            let last = |name: &str| members.iter().rev().find(|(k, _)| **k == *name.as_bytes()).map(|m| m.1);
            (last(path), head.and_then(last))
        };
        let mut objects = self.objects.borrow_mut();
        if let Some((_, members)) = objects.iter().find(|(o, _)| std::ptr::eq(*o, v)) {
            return members.as_ref().map(pick);
        }
        let mut members: Option<Members<'a>> = Some(Vec::with_capacity(8));
        raw::members(v, |key, escaped, value| match (raw::key_bytes(key, escaped), members.as_mut()) {
            (Some(k), Some(m)) => m.push((k, value)),
            _ => members = None,
        });
        let found = members.as_ref().map(pick);
        if objects.len() < REMEMBERED {
            objects.push((v, members));
        }
        found
    }

    /// Every top-level field, read.
    fn all_fields(&self) -> std::cell::Ref<'_, Vec<Field<'a>>> {
        if let Some(top) = self.top {
            let mut fields = self.fields.borrow_mut();
            if fields.is_empty() {
                fields.extend(top.all(self.raw).map(|(key, raw)| Field { key, raw }));
            }
        }
        self.read_until(None);
        self.fields.borrow()
    }

    fn whole(&self) -> &Value {
        self.whole.get_or_init(|| {
            let map = self
                .all_fields()
                .iter()
                .filter_map(|f| {
                    let key = String::from_utf8_lossy(&f.key).into_owned();
                    Some((key, serde_json::from_slice(f.raw).ok()?))
                })
                .collect();
            Value::Object(map)
        })
    }
}

impl Event for RecordView<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        if let Some(raw) = self.top(path) {
            if let Some(s) = raw::plain_string(raw) {
                return Some(EventValue::Str(Cow::Borrowed(s)));
            }
            if let Ok(v) = serde_json::from_slice::<Value>(raw) {
                return Some(present_owned(&v));
            }
        }
        let (root, rest) = path.split_once('.')?;
        let mut found = Vec::new();
        self.follow_raw(self.field(root)?, rest, &mut |x| found.push(x), DEPTH);
        match found.len() {
            0 => None,
            1 => present_raw(found[0]),
            _ => Some(EventValue::Array(found.into_iter().filter_map(present_raw).collect())),
        }
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        JsonEvent::borrow(self.whole()).any_string_value(pred)
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        JsonEvent::borrow(self.whole())
            .all_string_values()
            .into_iter()
            .map(|s| Cow::Owned(s.into_owned()))
            .collect()
    }

    fn to_json(&self) -> Value {
        self.whole().clone()
    }

    fn top_level_keys(&self) -> Option<Vec<Cow<'_, str>>> {
        Some(
            self.all_fields()
                .iter()
                .map(|f| Cow::Owned(String::from_utf8_lossy(&f.key).into_owned()))
                .collect(),
        )
    }
}

/// A key, borrowed unless it had escapes.
pub(super) struct Key<'a>(pub(super) Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_nested_paths_and_objects_as_text() {
        let raw = br#"{"eventName":"PutBucketVersioning","n":3,"ok":true,"requestParameters":{"bucketName":"b",
            "VersioningConfiguration":{"Status":"Suspended"},"policyDocument":"{\"Action\":\"s3:GetObject\"}"},
            "resources":[{"ARN":"arn:1"},{"ARN":"arn:2"}],"k\u0065y":"escaped"}"#;
        let e = RecordView::new(raw).unwrap();
        assert_eq!(e.get_field("eventName"), Some(EventValue::Str("PutBucketVersioning".into())));
        assert_eq!(e.get_field("n"), Some(EventValue::Int(3)));
        assert_eq!(e.get_field("ok"), Some(EventValue::Bool(true)));
        assert_eq!(e.get_field("key"), Some(EventValue::Str("escaped".into())));
        assert_eq!(
            e.get_field("requestParameters.VersioningConfiguration.Status"),
            Some(EventValue::Str("Suspended".into()))
        );
        let Some(EventValue::Str(text)) = e.get_field("requestParameters") else { panic!() };
        assert!(text.contains("Suspended") && text.contains(r#""s3:GetObject""#), "{text}");
        assert!(e.get_field("missing").is_none() && e.get_field("requestParameters.nope").is_none());
        assert!(e.any_string_value(&|s| s == "arn:2"));
        assert!(RecordView::new(b"[1]").is_none() && RecordView::new(b" 1").is_none());
        // Read as far as it is valid (the walker gives only valid records).
        assert!(RecordView::new(b"{\"a\":").unwrap().get_field("a").is_none());
    }
}

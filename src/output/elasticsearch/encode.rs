//! The `_bulk` wire format: each document is framed by its action line,
//! `{"create":{"_index":"PREFIX-YYYY.MM.DD","_id":"…"}}`, built from the routing the transform
//! gives (id and UTC day). The file output (`--output`) writes the same NDJSON.
//!
//! The action is `create` by default, so an event already indexed is a 409 ("already present") and
//! is never overwritten; `index` replaces what is there (for re-sending what an earlier run may
//! have sent wrong).

use crate::ack::EventAck;
use crate::output::batch::{Batch, Frame};
use crate::transform::Routing;
use std::io::Write;

/// How index names are formed.
#[derive(Clone, Debug)]
pub struct IndexNaming {
    /// The part before `-YYYY.MM.DD`.
    pub prefix: String,
}

/// The bulk action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Op {
    /// Add, or answer 409 if the id exists.
    #[default]
    Create,
    /// Add or replace.
    Index,
}

/// Frames documents as `_bulk` items.
#[derive(Clone, Debug)]
pub struct BulkFraming {
    /// Index names.
    pub naming: IndexNaming,
    /// The action.
    pub op: Op,
    /// Give each document its routing id as `_id` (off: the cluster picks one, and a re-run adds
    /// copies; for collections that refuse custom ids, `--allow-duplicates`).
    pub ids: bool,
}

impl BulkFraming {
    /// `create` actions into `PREFIX-YYYY.MM.DD`.
    pub fn create(prefix: &str) -> Self {
        BulkFraming { naming: IndexNaming { prefix: prefix.to_string() }, op: Op::Create, ids: true }
    }

    /// The same framing without `_id`s.
    pub fn without_ids(self) -> Self {
        BulkFraming { ids: false, ..self }
    }

    /// Appends the action line (with its newline) for a document routed by `routing`.
    pub fn action(&self, routing: &Routing, out: &mut Vec<u8>) {
        let op = match self.op {
            Op::Create => "create",
            Op::Index => "index",
        };
        let d = routing.day;
        // Writes into a Vec cannot fail.
        let _ = write!(
            out,
            "{{\"{op}\":{{\"_index\":\"{}-{:04}.{:02}.{:02}\"",
            self.naming.prefix, d.year, d.month, d.day
        );
        if self.ids {
            out.extend_from_slice(b",\"_id\":");
            routing.id.write_json(out);
        }
        out.extend_from_slice(b"}}\n");
    }
}

impl Frame for BulkFraming {
    fn append(&self, batch: &mut Batch, routing: &Routing, document: &[u8], ack: EventAck) {
        let start = batch.body.len();
        self.action(routing, &mut batch.body);
        batch.body.extend_from_slice(document);
        batch.body.push(b'\n');
        batch.push_written(start, ack, routing.day.unix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::{Encoded, Transform};
    use serde_json::{json, Value};

    /// The action line for a raw event, as the pipeline would frame it.
    fn action(raw: &str) -> Value {
        let mut doc = Vec::new();
        let Encoded::Document(routing) = Transform::plain().encode(raw.as_bytes(), &mut doc).unwrap() else {
            panic!("filtered")
        };
        let mut line = Vec::new();
        BulkFraming::create("cloudtrail").action(&routing, &mut line);
        assert_eq!(line.last(), Some(&b'\n'));
        serde_json::from_slice(&line).unwrap()
    }

    #[test]
    fn action_uses_event_id_and_utc_day() {
        let got = action(r#"{"eventID":"abc","eventTime":"2024-05-01T23:59:59Z","x":1}"#);
        assert_eq!(got, json!({"create":{"_index":"cloudtrail-2024.05.01","_id":"abc"}}));
        let own = action(r#"{"@timestamp":"2020-09-14T01:19:40.000Z","eventName":"X"}"#);
        assert_eq!(own["create"]["_index"], "cloudtrail-2020.09.14");
    }

    #[test]
    fn without_ids_the_action_has_none() {
        let mut doc = Vec::new();
        let raw = r#"{"eventID":"abc","eventTime":"2024-05-01T00:00:00Z"}"#;
        let Encoded::Document(routing) = Transform::plain().encode(raw.as_bytes(), &mut doc).unwrap() else {
            panic!("filtered")
        };
        let mut line = Vec::new();
        BulkFraming::create("ct").without_ids().action(&routing, &mut line);
        assert_eq!(line, b"{\"create\":{\"_index\":\"ct-2024.05.01\"}}\n");
    }

    #[test]
    fn content_ids_and_escaped_ids_are_valid_json() {
        let a = action(r#"{"eventTime":"2024-05-01T00:00:00Z","x":1}"#);
        assert_eq!(a["create"]["_id"].as_str().unwrap().len(), 40);
        let escaped = action(r#"{"eventID":"a\"b","eventTime":"2024-05-01T00:00:00\u005a"}"#);
        assert_eq!(escaped["create"]["_id"], "a\"b");
    }

    #[test]
    fn index_op_replaces() {
        let mut doc = Vec::new();
        let raw = br#"{"eventID":"x","eventTime":"2024-05-01T00:00:00Z"}"#;
        let Encoded::Document(routing) = Transform::plain().encode(raw, &mut doc).unwrap() else { panic!() };
        let framing = BulkFraming { op: Op::Index, ..BulkFraming::create("ct") };
        let mut line = Vec::new();
        framing.action(&routing, &mut line);
        assert_eq!(line, b"{\"index\":{\"_index\":\"ct-2024.05.01\",\"_id\":\"x\"}}\n");
    }
}

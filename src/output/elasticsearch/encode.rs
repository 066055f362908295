//! The `_bulk` wire format: each document is framed by its action line,
//! `{"create":{"_index":"PREFIX-YYYY.MM.DD","_id":"…"}}`, built from the routing the transform
//! gives (id and UTC day). The file output (`--output`) writes the same NDJSON.
//!
//! With `--ecs` the prefix is `logs-aws.cloudtrail-NAMESPACE` ([`IndexNames::ecs`]): the index
//! pattern Elastic Security's prebuilt AWS rules read is `logs-aws.cloudtrail-*`. The indices
//! stay daily plain indices, not the data stream `logs-aws.cloudtrail-NAMESPACE` Elastic's own
//! integration writes: a data stream's `_id` is unique only within one backing index, so after a
//! rollover a re-run would add every event again, while one index per event day keeps "a re-run
//! adds nothing" (`create` answers 409). Setup's template for them has no `data_stream` and
//! outranks the built-in ones (`setup/templates.rs`).
//!
//! The action is `create` by default, so an event already indexed is a 409 ("already present") and
//! is never overwritten; `index` replaces what is there (for re-sending what an earlier run may
//! have sent wrong).

use super::names::IndexNames;
use crate::ack::EventAck;
pub use crate::output::batch::Op;
use crate::output::batch::{ActionLine, Batch, Frame};
use crate::transform::{Day, DocId, Routing};

/// Frames documents as `_bulk` items.
#[derive(Clone, Debug)]
pub struct BulkFraming {
    /// Index names.
    pub naming: IndexNames,
    /// The action.
    pub op: Op,
    /// Give each document its routing id as `_id` (off: the cluster picks one, and a re-run adds
    /// copies; for collections that refuse custom ids, `--allow-duplicates`).
    pub ids: bool,
}

impl BulkFraming {
    /// `create` actions into `PREFIX-YYYY.MM.DD`.
    pub fn create(prefix: &str) -> Self {
        BulkFraming::for_names(IndexNames::new(prefix))
    }

    /// `create` actions into the daily indices of `names`.
    pub fn for_names(names: IndexNames) -> Self {
        BulkFraming { naming: names, op: Op::Create, ids: true }
    }

    /// The same framing without `_id`s.
    pub fn without_ids(self) -> Self {
        BulkFraming { ids: false, ..self }
    }

    /// Appends the action line (with its newline) for a document routed by `routing`.
    pub fn action(&self, routing: &Routing, out: &mut Vec<u8>) {
        let index = self.naming.events_index(&routing.day);
        ActionLine::Bulk { op: self.op, index: &index, id: self.ids.then_some(routing.id) }.write(out);
        out.push(b'\n');
    }
}

impl Frame for BulkFraming {
    fn append_finding(&self, batch: &mut Batch, id: &str, day: Day, document: &[u8], ack: EventAck) {
        let index = batch.destination(true, &day, || self.naming.findings_index(&day));
        // A string always serializes.
        let literal = serde_json::to_vec(id).unwrap_or_default();
        let id = self.ids.then_some(DocId::Event(&literal));
        // Always `create`: a finding never changes, and a re-run's copy is a 409.
        let line = ActionLine::Bulk { op: Op::Create, index: &index.name, id };
        batch.push(line, index.clone(), document, ack, day.unix, true);
    }

    fn index_name(&self, day: &Day) -> String {
        self.naming.events_index(day)
    }

    fn append(&self, batch: &mut Batch, routing: &Routing, document: &[u8], ack: EventAck) {
        // A file an earlier run sent unverified events of: its events replace them.
        let op = if ack.replaces() { Op::Index } else { self.op };
        let index = batch.destination(false, &routing.day, || self.naming.events_index(&routing.day));
        let line = ActionLine::Bulk { op, index: &index.name, id: self.ids.then_some(routing.id) };
        batch.push(line, index.clone(), document, ack, routing.day.unix, false);
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
    fn ecs_indices_are_daily_under_the_logs_aws_cloudtrail_pattern() {
        let mut doc = Vec::new();
        let raw = br#"{"eventID":"x","eventTime":"2024-05-01T23:00:00Z"}"#;
        let Encoded::Document(routing) = Transform::plain().encode(raw, &mut doc).unwrap() else { panic!() };
        let framing = BulkFraming { naming: IndexNames::ecs("prod"), ..BulkFraming::create("x") };
        let mut line = Vec::new();
        framing.action(&routing, &mut line);
        assert_eq!(
            line,
            b"{\"create\":{\"_index\":\"logs-aws.cloudtrail-prod-2024.05.01\",\"_id\":\"x\"}}\n"
        );
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

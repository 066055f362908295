//! Tests of batches: items and their acknowledgements, routing kept per item, and recycled batches
//! that come back empty.
use super::*;
use crate::ack::{Delivery, FileAck};

fn index(name: &str) -> Arc<Destination> {
    Arc::new(Destination { name: name.into(), day: None })
}

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.into()).unwrap()
}

fn day(year: i32, month: u32, day: u32) -> Day {
    Day { year, month, day, unix: 0 }
}

#[test]
fn recycled_batches_come_back_empty_and_few_are_kept() {
    let (file, _receipt) = FileAck::new("f".into());
    let spares = Spares::new(1, 100);
    let mut first = Batch { spares: Some(spares.clone()), ..Batch::default() };
    first.body.reserve(64);
    let create = raw("{\"create\":{}}");
    first.push(ActionLine::Verbatim(&create), index("x"), b"{\"secret\":1}", file.event(), 0, false);
    let at = first.body.as_ptr();
    for item in first.items.drain(..) {
        item.ack.settle(Delivery::Delivered);
    }
    first.recycle();
    Batch { body: b"second".to_vec(), spares: Some(spares.clone()), ..Batch::default() }.recycle();
    let again = spares.take().expect("one kept");
    assert_eq!(again.body.as_ptr(), at, "the same buffer");
    assert!(again.body.is_empty() && again.items.is_empty(), "nothing of the last batch is seen");
    assert!(spares.take().is_none(), "only one kept");
    let huge = Batch { body: Vec::with_capacity(101), spares: Some(spares.clone()), ..Batch::default() };
    huge.recycle();
    assert!(spares.take().is_none(), "a body grown past the limit is freed");
    Batch { body: b"no pool".to_vec(), ..Batch::default() }.recycle();
    assert!(spares.take().is_none(), "a batch without a pool is freed");
}

#[test]
fn items_know_their_lines_and_move_between_batches() {
    let (file, _receipt) = FileAck::new("f".into());
    let mut a = Batch::default();
    let create = raw("{\"create\":{}}");
    for doc in ["{\"a\":1}", "{\"b\":2}"] {
        a.push(ActionLine::Verbatim(&create), index("x"), doc.as_bytes(), file.event(), 0, false);
    }
    assert_eq!(line(&a.body, &a.items[1].document), b"{\"b\":2}");
    let mut b = Batch::default();
    let body = std::mem::take(&mut a.body);
    let second = a.items.pop().unwrap();
    b.push_from(&body, second);
    assert_eq!(b.body, b"{\"create\":{}}\n{\"b\":2}\n");
    assert_eq!(line(&b.body, &b.items[0].action), b"{\"create\":{}}");
    let limits = BatchLimits { max_bytes: 1000, max_events: 1 };
    assert!(b.is_full(&limits) && !a.is_full(&BatchLimits { max_events: 2, ..limits }));
    for item in a.items.into_iter().chain(b.items) {
        item.ack.settle(Delivery::Delivered);
    }
}

#[test]
fn the_action_line_is_written_and_read_back_from_values() {
    let (file, _receipt) = FileAck::new("f".into());
    let mut batch = Batch::default();
    let id = DocId::Event(br#""a\u005ab""#);
    let with_id = ActionLine::Bulk { op: Op::Index, index: "ct-2024.05.01", id: Some(id) };
    batch.push(with_id, index("ct-2024.05.01"), b"{}", file.event(), 7, false);
    let no_id = ActionLine::Bulk { op: Op::Create, index: "ct-2024.05.01", id: None };
    batch.push(no_id, index("ct-2024.05.01"), b"{}", file.event(), 8, true);
    let expected = "{\"index\":{\"_index\":\"ct-2024.05.01\",\"_id\":\"a\\u005ab\"}}\n{}\n\
                    {\"create\":{\"_index\":\"ct-2024.05.01\"}}\n{}\n";
    assert_eq!(String::from_utf8_lossy(&batch.body), expected);
    // Moved into another batch behind another item, each still spells its own line.
    let mut other = Batch::default();
    let first = raw(r#"{"create":{"_index":"old"}}"#);
    other.push(ActionLine::Verbatim(&first), index("old"), b"{\"n\":1}", file.event(), 0, false);
    let body = std::mem::take(&mut batch.body);
    for item in std::mem::take(&mut batch.items) {
        other.push_from(&body, item);
    }
    for item in &other.items {
        let mut spelt = Vec::new();
        item.action_line(&other.body).write(&mut spelt);
        assert_eq!(spelt, line(&other.body, &item.action), "values and bytes agree");
    }
    assert!(matches!(other.items[1].route.action, RouteAction::Framed { op: Op::Index, id: Some(_) }));
    assert_eq!((other.items[1].time, other.items[2].time, other.items[2].finding), (7, 8, true));
    for item in other.items {
        item.ack.settle(Delivery::Delivered);
    }
}

#[test]
fn items_of_one_index_share_its_name_and_the_batch_names_each_index_once() {
    let (file, _receipt) = FileAck::new("f".into());
    let mut batch = Batch::default();
    let mut named = 0;
    for (finding, d) in [(false, 1), (false, 1), (true, 1), (false, 1), (false, 2), (false, 1)] {
        let index = batch.destination(finding, &day(2024, 5, d), || {
            named += 1;
            format!("ct-{}2024.05.0{d}", if finding { "findings-" } else { "" })
        });
        let to = ActionLine::Bulk { op: Op::Create, index: &index.name.clone(), id: None };
        batch.push(to, index, b"{}", file.event(), 0, finding);
    }
    assert_eq!(named, 3, "one name per index met, the rest shared");
    let names: Vec<_> = batch.destinations().iter().map(|d| d.name.clone()).collect();
    assert_eq!(names, ["ct-2024.05.01", "ct-findings-2024.05.01", "ct-2024.05.02"]);
    assert_eq!(batch.destinations()[2].day, NaiveDate::from_ymd_opt(2024, 5, 2));
    for item in batch.items {
        item.ack.settle(Delivery::Delivered);
    }
}

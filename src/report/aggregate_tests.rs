//! Tests of the aggregator: which tables share a tally, and the launches kept.

use super::*;

#[test]
fn tables_share_a_tally_only_when_they_count_the_same() {
    let id = |i: usize| TABLES[i].id;
    let shared: Vec<(&str, &str)> =
        TALLY_OF.iter().enumerate().filter(|(i, t)| *i != **t).map(|(i, t)| (id(i), id(*t))).collect();
    assert_eq!(shared, [("new_principals", "principals"), ("new_ips", "source_ips")]);
    for (i, t) in TALLY_OF.iter().enumerate() {
        let (a, b) = (&TABLES[i], &TABLES[*t]);
        assert_eq!((a.scope, a.dims, a.missing), (b.scope, b.dims, b.missing), "{}", a.id);
    }
    assert!(KEYED[F::Arn as usize] && KEYED[F::AccessKey as usize] && !KEYED[F::UserAgent as usize]);
}

fn launch_event(name: &'static str, time: i64) -> Event<'static> {
    let mut values = [const { None }; FIELDS.len() + RESOURCES.len()];
    values[F::EventName as usize] = Some(Cow::Borrowed(name));
    values[F::Arn as usize] = Some(Cow::Owned(format!("arn:aws:iam::1:user/u{}", time % 7)));
    Event { values, console: false, launch: true, time }
}

#[test]
fn the_launches_kept_are_the_latest_whatever_the_order_read() {
    let options = Arc::new(Options { launch_events: vec!["RunInstances".into()], ..Default::default() });
    let mut a = Aggregator::new(options.clone(), Arc::new(Shared::default()));
    // Times in a scrambled order, some repeated, spanning more than the rows kept several times.
    let times: Vec<i64> = (0..5_000i64).map(|i| 1_714_000_000 + (i * 7_919) % 3_001).collect();
    for &t in &times {
        a.add(&launch_event("RunInstances", t));
    }
    assert!(a.launch_floor.is_some(), "the floor is set once the launches were cut");
    let mut want: Vec<String> = times.iter().map(|t| model::time_text(*t)).collect();
    want.sort_unstable_by(|x, y| y.cmp(x));
    want.truncate(LAUNCH_ROWS);
    let got: Vec<String> = a.report().launches.into_iter().map(|l| l.time).collect();
    assert_eq!(got, want);
    assert_eq!(four_digit_year_time("2024-05-01T00:00:00Z"), Some(1_714_521_600));
    assert_eq!(four_digit_year_time(""), None);
}

fn keyed_event(key: Cow<'static, str>, time: i64) -> Event<'static> {
    let mut values = [const { None }; FIELDS.len() + RESOURCES.len()];
    values[F::AccessKey as usize] = Some(key);
    values[F::SourceIp as usize] = Some(Cow::Borrowed("AWS Internal"));
    Event { values, console: false, launch: false, time }
}

#[test]
fn distinct_values_are_counted_exactly_past_the_tables_bound() {
    // Each distinct count is fed from its table's tally, whose scope and field it shares.
    for (d, (_, f, table)) in DISTINCT.iter().enumerate() {
        let t = DISTINCT_OF.iter().position(|x| *x == Some(d)).unwrap();
        assert_eq!((TABLES[t].dims, TABLES[t].missing), (&[*f][..], None), "{table}");
        assert!(matches!(TABLES[t].scope, Scope::All | Scope::Caller), "{table}");
    }
    let shared = Arc::new(Shared::default());
    let mut a = Aggregator::new(Arc::new(Options::default()), shared.clone());
    // Far more keys than a table keeps, each seen twice (the second time after it was dropped),
    // and two values that are one key once `SEP` is replaced.
    for round in 0..2 {
        for i in 0..50_000i64 {
            a.add(&keyed_event(Cow::Owned(format!("AKIA{i:016}")), round * 100_000 + i));
        }
    }
    a.add(&keyed_event(Cow::Owned("x\u{1f}y".into()), 1));
    a.add(&keyed_event(Cow::Borrowed("x\u{fffd}y"), 2));
    a.add(&keyed_event(Cow::Owned("x\u{1f}y".into()), 3));
    let report = a.report();
    assert!(report.tables["new_access_keys"].error_bound > 0, "the table is a summary");
    assert_eq!(report.distinct["access_keys"].count, 50_002);
    assert_eq!(report.distinct["ips"].count, 0, "AWS callers are not addresses");
}

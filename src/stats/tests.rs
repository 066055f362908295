//! Tests of the counters: the exit status, stalls, the summary's texts, and that every row of the
//! table shows where it says (summary, progress line, `/metrics`, and the metrics reference).
use super::*;

#[test]
fn problems_decide_the_exit_status() {
    let s = Stats::default();
    Stats::add(&s.events_indexed, 5);
    Stats::add(&s.files_skipped, 1);
    assert!(!s.has_problems());
    Stats::add(&s.events_dead, 1);
    assert!(s.has_problems());
    let s = Stats::default();
    Stats::add(&s.events_unavailable, 3);
    assert!(s.has_problems(), "undelivered events are not a success");
    let text = s.summary(Duration::from_secs(1)).to_string();
    assert!(text.contains("\n3 events not delivered: the cluster was unavailable; run again\n"), "{text}");
}

#[test]
fn a_stall_is_work_waiting_without_delivery() {
    let h = Health::default();
    assert_eq!(h.stalled(), None);
    h.work_arrived(3);
    assert_eq!(h.stalled().map(|(_, n)| n), Some(3));
    h.progress_at.store(1, Relaxed);
    assert!(h.stalled().unwrap().0 > Duration::from_secs(1000), "nothing delivered since");
    h.work_settled(2, true);
    assert!(h.stalled().unwrap().0 < Duration::from_secs(5), "a delivery is progress");
    h.work_settled(1, false);
    assert_eq!(h.stalled(), None, "nothing waits");
}

#[test]
fn summary_shows_every_count() {
    let s = Stats::default();
    Stats::add(&s.events_read, 10);
    Stats::add(&s.events_indexed, 7);
    Stats::add(&s.events_present, 2);
    Stats::add(&s.events_dead, 1);
    let text = s.summary(Duration::from_secs(2)).to_string();
    assert!(text.contains("10 read: 7 indexed, 2 already present, 1 dead-lettered"), "{text}");
    assert!(text.contains("(5 events/s)"), "{text}");
    assert!(!text.contains("filtered"), "no filter, no mention: {text}");
    Stats::add(&s.events_filtered, 3);
    let text = s.summary(Duration::from_secs(2)).to_string();
    assert!(text.contains("1 dead-lettered, 3 filtered out"), "{text}");
    assert!(!text.contains("omitted"), "none truncated, no mention: {text}");
    Stats::add(&s.events_omitted, 2);
    let text = s.summary(Duration::from_secs(2)).to_string();
    assert!(text.contains("3 filtered out; 2 truncated by CloudTrail (\"omitted\": true)\n"), "{text}");
    assert!(!text.contains("findings"), "no rules, no mention: {text}");
    Stats::add(&s.rules_loaded, 57);
    Stats::add(&s.findings[3], 2);
    Stats::add(&s.findings[2], 1);
    Stats::add(&s.findings_indexed, 3);
    let text = s.summary(Duration::from_secs(2)).to_string();
    assert!(
        text.contains("findings: 3 (high 2, medium 1) from 57 rules: 3 new, 0 already present"),
        "{text}"
    );
}

#[test]
fn filtered_events_are_not_problems() {
    let s = Stats::default();
    Stats::add(&s.events_filtered, 5);
    assert!(!s.has_problems());
}

/// Each counter field of the table set to a value of its own (every condition met: rules loaded,
/// a cluster output), findings by level, an event delivered.
fn every_counter_set() -> Stats {
    let s = Stats::default();
    for (i, row) in TABLE.iter().enumerate() {
        if let Some(field) = row.field {
            Stats::add(field(&s), 1_000_003 * (i as u64 + 1));
        }
    }
    Stats::add(&s.findings[3], 2);
    Stats::add(&s.findings[2], 1);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    s.delivered_time(now as i64 - 5);
    s
}

#[test]
fn every_row_shows_where_the_table_says_and_nowhere_else() {
    use crate::progress::{counts, Pace};
    let s = std::sync::Arc::new(every_counter_set());
    let summary = format!("{}\n{}", s.summary(Duration::from_secs(1)), s.line(Line::Messages).unwrap());
    let progress = counts(&s, Pace::default());
    let metrics =
        crate::metrics::Metrics { stats: s.clone(), unhealthy_after: Duration::from_secs(60) }.prometheus();
    let mut names = std::collections::HashSet::new();
    for row in TABLE {
        assert!(names.insert(row.name), "{} twice", row.name);
        let value = (row.read)(&s).unwrap_or_else(|| panic!("{} has no value", row.name));
        if let Some(field) = row.field {
            assert_eq!(field(&s).load(Relaxed), value, "{} reads its own field", row.name);
            let shown = value.to_string();
            let anywhere = [&summary, &progress, &metrics].iter().any(|t| t.contains(&shown));
            // The number itself, where a view writes it as it is (not as megabytes, say).
            let as_is = |p: Phrase| matches!(p.show, Show::Count | Show::OfMax);
            let written = row.metric.is_some()
                || row.summary.is_some_and(|(_, p)| as_is(p))
                || row.progress.is_some_and(as_is);
            assert_eq!(anywhere, written, "{}: shown where the table does not say, or not shown", row.name);
        }
        if let Some((line, phrase)) = row.summary {
            assert_eq!(phrase.text.matches("{}").count(), 1, "{}", row.name);
            let text = s.line(line).unwrap();
            let rendered = phrase.render(&s, value).unwrap();
            assert!(
                text.contains(&rendered) && summary.contains(&text),
                "{}: {rendered:?} not in {text:?}",
                row.name
            );
        }
        if let Some(phrase) = row.progress {
            let rendered = phrase.render(&s, value).unwrap();
            assert!(
                progress.split(" · ").any(|p| p == rendered),
                "{}: {rendered:?} not in {progress}",
                row.name
            );
        }
        if let Some(metric) = row.metric {
            let kind = if row.kind == Kind::Counter { "counter" } else { "gauge" };
            let head = format!(
                "# HELP cloudtrail_es_{0} {1}\n# TYPE cloudtrail_es_{0} {kind}\n",
                metric.name, row.help
            );
            assert!(metrics.contains(&head), "{}: {head:?} not in {metrics}", row.name);
            let series =
                if metric.by_level { "{level=\"high\"} 2\n".to_string() } else { format!(" {value}\n") };
            assert!(metrics.contains(&format!("cloudtrail_es_{}{series}", metric.name)), "{}", row.name);
        }
    }
    let served = metrics.lines().filter(|l| l.starts_with("# TYPE")).count();
    assert_eq!(served, TABLE.iter().filter(|r| r.metric.is_some()).count(), "{metrics}");
}

#[test]
fn the_metrics_reference_names_every_metric_the_table_serves_and_no_other() {
    let doc = include_str!("../../docs/reference/metrics.md");
    let documented: std::collections::BTreeSet<&str> = doc
        .split('`')
        .filter_map(|t| t.strip_prefix("cloudtrail_es_"))
        .map(|t| t.split('{').next().unwrap_or(t))
        .collect();
    let served: std::collections::BTreeSet<&str> =
        TABLE.iter().filter_map(|r| Some(r.metric?.name)).collect();
    assert_eq!(documented, served);
}

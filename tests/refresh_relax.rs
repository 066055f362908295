//! Refresh off while a backfill writes (docs/design/refresh.md): by default (no `--state` needed), the
//! indices written get `index.refresh_interval: -1` during the run, with the value to restore in
//! their `_meta`, and their previous value back afterwards — after a normal run, after SIGINT, and
//! after kill -9 once any command runs against the cluster (`setup`, a backfill of other files),
//! on the four clusters. Today's index is left alone unless `--relax-today`; a `STATE.refresh` an
//! older version left is still restored. One index exists before the run with its own value
//! (7s), the other is created by it (no value: the default). The run goes through a proxy of our
//! own (`util/http_proxy.rs`) that slows or refuses `_bulk`, so that it is still writing while the
//! test looks at the settings on the cluster directly.

use crate::util::http_proxy::{HttpProxy, Mode};
use crate::util::{on_each_cluster, prefix, run_in, write_gz, Cluster, ES8, OS3};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const PER_DAY: usize = 60;

/// Log files with `PER_DAY` events on 2024-05-01 and on 2024-05-02.
fn two_days(dir: &Path, tag: &str) {
    for day in ["01", "02"] {
        let records: Vec<String> = (0..PER_DAY)
            .map(|i| format!(r#"{{"eventID":"{tag}-{day}-{i}","eventTime":"2024-05-{day}T10:00:00Z","eventName":"E","awsRegion":"us-east-1"}}"#))
            .collect();
        let body = format!(r#"{{"Records":[{}]}}"#, records.join(","));
        write_gz(&dir.join(format!("logs/{day}.json.gz")), body.as_bytes());
    }
}

/// `index.refresh_interval` as set on `index` (`None`: not set).
fn interval(cluster: &Cluster, index: &str) -> Option<String> {
    let settings = cluster.get(&format!("/{index}/_settings"));
    settings[index]["settings"]["index"]["refresh_interval"].as_str().map(str::to_string)
}

/// The index of day `day` of prefix `p`, and the same with a value of its own set before the run.
fn indices(cluster: &Cluster, p: &str) -> (String, String) {
    let (own, created) = (format!("{p}-2024.05.01"), format!("{p}-2024.05.02"));
    cluster.put(&format!("/{own}"), r#"{"settings":{"index":{"refresh_interval":"7s"}}}"#);
    (own, created)
}

/// The value to restore that the backfill keeps in the index's `_meta` (`None`: no marker).
fn marker(cluster: &Cluster, index: &str) -> Option<serde_json::Value> {
    let mapping = cluster.get(&format!("/{index}/_mapping"));
    mapping[index]["mappings"]["_meta"]["cloudtrail_es"].get("refresh_to_restore").cloned()
}

/// A backfill of `logs` (no `--state`), in batches of `batch` events, `concurrency` at once.
fn args<'a>(url: &'a str, p: &'a str, batch: &'a str, concurrency: &'a str) -> Vec<&'a str> {
    let mut args = vec!["backfill", "logs", "--es", url, "--index-prefix", p];
    args.extend(["--batch-events", batch, "--bulk-concurrency", concurrency, "--retry-max-delay", "1"]);
    args
}

/// Polls until both indices have refresh off (the backfill relaxed them), within 60 s.
fn wait_relaxed(cluster: &Cluster, child: &mut Child, own: &str, created: &str) {
    let started = Instant::now();
    loop {
        let both = cluster.status(&format!("/{created}")) == 200
            && interval(cluster, own).as_deref() == Some("-1")
            && interval(cluster, created).as_deref() == Some("-1");
        if both {
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "the backfill ended before relaxing both indices");
        assert!(started.elapsed() < Duration::from_secs(60), "refresh never switched off");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(child: &mut Child) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the backfill did not stop within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_restored(cluster: &Cluster, own: &str, created: &str) {
    assert_eq!(interval(cluster, own).as_deref(), Some("7s"), "{own}: its own value back");
    assert_eq!(interval(cluster, created), None, "{created}: created by the run, back to the default");
    assert_eq!(marker(cluster, own), None, "{own}: nothing left to restore");
    assert_eq!(marker(cluster, created), None, "{created}: nothing left to restore");
}

#[test]
fn a_backfill_switches_refresh_off_while_it_writes_and_back_after() {
    on_each_cluster(|cluster| {
        let proxy = HttpProxy::start(&cluster.url);
        // Each bulk request answered after 150 ms: the run writes 12 batches for about 2 s.
        proxy.delay(Duration::from_millis(150));
        let p = prefix("refresh-normal");
        let dir = tempfile::tempdir().unwrap();
        two_days(dir.path(), &p);
        let (own, created) = indices(cluster, &p);
        let mut child = crate::util::command(dir.path(), &args(&proxy.url, &p, "10", "1"), &[])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_relaxed(cluster, &mut child, &own, &created);
        assert_eq!(marker(cluster, &own), Some(serde_json::json!("7s")), "the value to restore, kept first");
        assert_eq!(marker(cluster, &created), Some(serde_json::Value::Null), "unset: the default");
        assert_eq!(wait_exit(&mut child), 0);
        assert_restored(cluster, &own, &created);
        assert_eq!(cluster.count(&p), 2 * PER_DAY as u64);

        // --keep-refresh: never touched.
        let kept = prefix("refresh-kept");
        let (own, created) = indices(cluster, &kept);
        let mut keep = args(&cluster.url, &kept, "10", "1");
        keep.push("--keep-refresh");
        let fresh = tempfile::tempdir().unwrap();
        two_days(fresh.path(), &kept);
        let run = run_in(fresh.path(), &keep, &[]);
        run.expect_code(0);
        assert!(!run.stderr.contains("refresh off"), "{}", run.stderr);
        assert_eq!(cluster.count(&kept), 2 * PER_DAY as u64);
        assert_eq!(interval(cluster, &own).as_deref(), Some("7s"));
        assert_eq!(interval(cluster, &created), None);
        cluster.clean(&p);
        cluster.clean(&kept);
    });
}

/// A backfill whose bulk requests are all refused (503): it stays at work, its indices relaxed
/// (batches of 40, four at once: both days are in the batches being delivered).
fn stuck_backfill(
    cluster: &Cluster,
    name: &str,
) -> (HttpProxy, tempfile::TempDir, String, String, String, Child) {
    let proxy = HttpProxy::start(&cluster.url);
    proxy.set(Mode::Status(503));
    let p = prefix(name);
    let dir = tempfile::tempdir().unwrap();
    two_days(dir.path(), &p);
    let (own, created) = indices(cluster, &p);
    let mut child = crate::util::command(dir.path(), &args(&proxy.url, &p, "40", "4"), &[])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_relaxed(cluster, &mut child, &own, &created);
    assert!(marker(cluster, &own).is_some(), "recorded before relaxing");
    (proxy, dir, p, own, created, child)
}

/// A backfill killed with SIGKILL while it writes: both its indices are left relaxed.
fn killed_backfill(cluster: &Cluster, name: &str) -> (HttpProxy, tempfile::TempDir, String, String, String) {
    let (proxy, dir, p, own, created, mut child) = stuck_backfill(cluster, name);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(interval(cluster, &own).as_deref(), Some("-1"), "a kill -9 restores nothing");
    (proxy, dir, p, own, created)
}

#[test]
fn after_kill_9_setup_restores_refresh() {
    on_each_cluster(|cluster| {
        let (_proxy, dir, p, own, created) = killed_backfill(cluster, "refresh-kill-setup");
        // Someone else's refresh off, without our marker: left alone.
        let theirs = format!("{p}-2024.04.30");
        cluster.put(&format!("/{theirs}"), r#"{"settings":{"index":{"refresh_interval":"-1"}}}"#);
        let setup = run_in(dir.path(), &["setup", "--es", &cluster.url, "--index-prefix", &p], &[]);
        setup.expect_code(0);
        assert!(
            setup.stdout.contains("refresh of 2 index(es) an interrupted backfill left off: restored"),
            "{}",
            setup.stdout
        );
        assert_restored(cluster, &own, &created);
        assert_eq!(interval(cluster, &theirs).as_deref(), Some("-1"), "not ours to restore");
        let again = run_in(dir.path(), &["setup", "--es", &cluster.url, "--index-prefix", &p], &[]);
        assert!(!again.stdout.contains("refresh of"), "{}", again.stdout);
        cluster.clean(&p);
    });
}

#[test]
fn after_kill_9_a_backfill_of_other_files_restores_refresh() {
    on_each_cluster(|cluster| {
        let (_proxy, dir, p, own, created) = killed_backfill(cluster, "refresh-kill-other");
        // Other files, of another day, straight to the cluster, refresh left alone.
        let other = tempfile::tempdir().unwrap();
        let body = format!(
            r#"{{"Records":[{{"eventID":"{p}-x","eventTime":"2024-04-29T10:00:00Z","eventName":"E"}}]}}"#
        );
        write_gz(&other.path().join("logs/x.json.gz"), body.as_bytes());
        let mut rerun = args(&cluster.url, &p, "10", "1");
        rerun.push("--keep-refresh");
        let run = run_in(other.path(), &rerun, &[]);
        run.expect_code(0);
        assert!(run.stderr.contains("refresh restored where an interrupted backfill"), "{}", run.stderr);
        assert_restored(cluster, &own, &created);
        drop(dir);
        cluster.clean(&p);
    });
}

#[test]
fn todays_index_is_left_refreshing_unless_asked() {
    on_each_cluster(|cluster| {
        let p = prefix("refresh-today");
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        let index = format!("{p}-{}", today.replace('-', "."));
        let dir = tempfile::tempdir().unwrap();
        let records: Vec<String> = (0..PER_DAY)
            .map(|i| format!(r#"{{"eventID":"{p}-{i}","eventTime":"{today}T00:00:00Z","eventName":"E"}}"#))
            .collect();
        write_gz(
            &dir.path().join("logs/today.json.gz"),
            format!(r#"{{"Records":[{}]}}"#, records.join(",")).as_bytes(),
        );
        for relax_today in [false, true] {
            let proxy = HttpProxy::start(&cluster.url);
            proxy.delay(Duration::from_millis(150));
            let mut run = args(&proxy.url, &p, "10", "1");
            if relax_today {
                run.push("--relax-today");
            }
            let mut child =
                crate::util::command(dir.path(), &run, &[]).stderr(Stdio::null()).spawn().unwrap();
            let mut seen_off = false;
            while child.try_wait().unwrap().is_none() {
                seen_off |= cluster.status(&format!("/{index}")) == 200
                    && interval(cluster, &index).as_deref() == Some("-1");
                std::thread::sleep(Duration::from_millis(50));
            }
            assert_eq!(child.wait().unwrap().code(), Some(0));
            assert_eq!(seen_off, relax_today, "today's index relaxed only with --relax-today");
            assert_eq!(interval(cluster, &index), None, "left or put back as it was");
        }
        assert_eq!(cluster.count(&p), PER_DAY as u64);
        cluster.clean(&p);
    });
}

#[test]
fn a_refresh_record_of_an_older_version_is_still_restored() {
    let cluster = Cluster::of(&ES8);
    let p = prefix("refresh-legacy");
    let dir = tempfile::tempdir().unwrap();
    two_days(dir.path(), &p);
    let (own, _created) = indices(&cluster, &p);
    cluster.put(&format!("/{own}/_settings"), r#"{"index":{"refresh_interval":"-1"}}"#);
    let record = dir.path().join("state.refresh");
    std::fs::write(&record, format!(r#"{{"{own}":"7s"}}"#)).unwrap();
    let mut run = args(&cluster.url, &p, "40", "4");
    run.extend(["--state", "state", "--keep-refresh"]);
    run_in(dir.path(), &run, &[]).expect_code(0);
    assert_eq!(interval(&cluster, &own).as_deref(), Some("7s"));
    assert!(!dir.path().join("state.refresh").exists(), "the record is gone once restored");
    cluster.clean(&p);
}

#[test]
fn after_sigint_refresh_is_restored() {
    for known in [&ES8, &OS3] {
        let cluster = Cluster::of(known);
        let (_proxy, _dir, p, own, created, mut child) = stuck_backfill(&cluster, "refresh-int");
        let _ = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        assert_eq!(wait_exit(&mut child), 130);
        assert_restored(&cluster, &own, &created);
        cluster.clean(&p);
    }
}

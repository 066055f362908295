//! Refresh off while a backfill writes (docs/design/refresh.md): with `--state`, the indices written get
//! `index.refresh_interval: -1` during the run and their previous value back afterwards — after a
//! normal run (on the four clusters), after SIGINT, and after kill -9 once the run is repeated with
//! the same `--state`. One index exists before the run with its own value (7s), the other is
//! created by it (no value: the default). The run goes through a proxy of our own
//! (`util/http_proxy.rs`) that slows or refuses `_bulk`, so that it is still writing while the
//! test looks at the settings on the cluster directly.

use crate::util::http_proxy::{HttpProxy, Mode};
use crate::util::{event_counts, on_each_cluster, prefix, run_in, write_gz, Cluster, ES8, OS3};
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

/// A backfill of `logs` with `--state`, in batches of `batch` events, `concurrency` at once.
fn args<'a>(url: &'a str, p: &'a str, batch: &'a str, concurrency: &'a str) -> Vec<&'a str> {
    let mut args = vec!["backfill", "logs", "--es", url, "--index-prefix", p, "--state", "state"];
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

fn assert_restored(cluster: &Cluster, dir: &Path, own: &str, created: &str) {
    assert_eq!(interval(cluster, own).as_deref(), Some("7s"), "{own}: its own value back");
    assert_eq!(interval(cluster, created), None, "{created}: created by the run, back to the default");
    assert!(!dir.join("state.refresh").exists(), "nothing left to restore");
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
        assert_eq!(wait_exit(&mut child), 0);
        assert_restored(cluster, dir.path(), &own, &created);
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
    assert!(dir.path().join("state.refresh").exists(), "recorded before relaxing");
    (proxy, dir, p, own, created, child)
}

#[test]
fn after_kill_9_the_rerun_with_the_same_state_restores_refresh() {
    for known in [&ES8, &OS3] {
        let cluster = Cluster::of(known);
        let (proxy, dir, p, own, created, mut child) = stuck_backfill(&cluster, "refresh-kill");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(interval(&cluster, &own).as_deref(), Some("-1"), "a kill -9 restores nothing");
        proxy.set(Mode::Pass);
        let rerun = run_in(dir.path(), &args(&proxy.url, &p, "40", "4"), &[]);
        rerun.expect_code(0);
        let (indexed, present, dead) = event_counts(&rerun);
        assert_eq!((indexed + present, dead), (2 * PER_DAY as u64, 0), "{}", rerun.stderr);
        assert!(rerun.stderr.contains("refresh restored where an interrupted backfill"), "{}", rerun.stderr);
        assert_restored(&cluster, dir.path(), &own, &created);
        cluster.clean(&p);
    }
}

#[test]
fn after_sigint_refresh_is_restored() {
    for known in [&ES8, &OS3] {
        let cluster = Cluster::of(known);
        let (_proxy, dir, p, own, created, mut child) = stuck_backfill(&cluster, "refresh-int");
        let _ = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        assert_eq!(wait_exit(&mut child), 130);
        assert_restored(&cluster, dir.path(), &own, &created);
        cluster.clean(&p);
    }
}

//! The floor the reader is measured against (docs/design/reader-speed.md): the least a
//! program must do to turn CloudTrail log files into `_bulk` NDJSON, with nothing of what
//! cloudtrail-es adds (bounded memory on any input, checksums before events leave, redaction,
//! filters, dead letters, acknowledgements).
//!
//! Each file is read whole, decompressed whole with flate2 (zlib-rs), its `Records` split with
//! serde_json `RawValue`, `eventID` and `eventTime` read from each event, and the action line and
//! the raw event written. Files are shared among one thread per CPU (a work-stealing counter, as
//! rayon's `par_iter` would do), each writing a file's output at once.
//!
//! `cargo run --release --example floor -- DIR > OUT`; measured by `scripts/bench/run.sh floor`.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Deserialize)]
struct Log<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Ids<'a> {
    #[serde(rename = "eventID", borrow)]
    id: Cow<'a, str>,
    #[serde(rename = "eventTime", borrow)]
    time: Cow<'a, str>,
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: floor DIR");
    let files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| p.to_string_lossy().ends_with(".json.gz") && !p.to_string_lossy().contains("Digest"))
        .collect();
    let next = AtomicUsize::new(0);
    let out = Mutex::new(std::io::stdout());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let (mut gz, mut text, mut ndjson) = (Vec::new(), Vec::new(), Vec::new());
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    gz.clear();
                    text.clear();
                    ndjson.clear();
                    std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut gz)).expect("read");
                    flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut text).expect("gunzip");
                    let log: Log = serde_json::from_slice(&text).expect("Records");
                    for event in log.records {
                        let ids: Ids = serde_json::from_str(event.get()).expect("eventID");
                        let day = ids.time.get(..10).unwrap_or("").replace('-', ".");
                        writeln!(
                            ndjson,
                            r#"{{"create":{{"_index":"cloudtrail-{day}","_id":"{}"}}}}"#,
                            ids.id
                        )
                        .expect("write");
                        ndjson.extend_from_slice(event.get().as_bytes());
                        ndjson.push(b'\n');
                    }
                    out.lock().expect("stdout").lock().write_all(&ndjson).expect("write");
                }
            });
        }
    });
}

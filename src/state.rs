//! `--state`: the record of files finished, so a re-run (after Ctrl-C, kill -9, a crash) only reads
//! what is left.
//!
//! A file is recorded only once all of its events are in the index or dead-lettered (its ack
//! resolved without failure). A file that failed after sending events of a damaged gzip member
//! unverified is recorded as `{"replace": NAME}`: the run that reads it again replaces those
//! events (`index`, not `create`), until a run finishes it. The file is a journal of JSON
//! strings, one file name per line (and those `replace` objects):
//! appends are flushed and synced about once a second, so a kill loses at most the last second of
//! records (those files are read again, and `_id = eventID` makes the re-sent events no-ops).
//! A torn last line is ignored on load. At the end of a run the journal is compacted by writing a
//! new file and atomically renaming it over the old one. The journal and its temporary file are
//! private (0600) and never opened through a symbolic link (`private_file.rs`).
//!
//! Beside it, `STATE.refresh` ([`RefreshRecord`]) is where versions before kept the indices whose
//! refresh a backfill had switched off, each with the value to put back. The value is now kept in
//! each index's `_meta` (`output/elasticsearch/refresh_marker.rs`); a record an older version left
//! is still read, restored by a backfill with that `--state`, and removed (rewritten with what could
//! not be restored yet).

use crate::private_file::{self, How};
use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The state journal of one run.
pub struct StateFile {
    path: PathBuf,
    done: HashSet<String>,
    replace: HashSet<String>,
    journal: BufWriter<File>,
    pending: usize,
}

/// Why a state file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("--state {path}: {reason}")]
pub struct StateError {
    /// The state file.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl StateFile {
    /// Opens (or creates) the journal at `path` and reads what it records.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let err = |e: io::Error| StateError { path: path.display().to_string(), reason: e.to_string() };
        let (done, replace) = match private_file::open(path, How::Read) {
            Ok(f) => read_journal(BufReader::new(f)).map_err(err)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Default::default(),
            Err(e) => return Err(err(e)),
        };
        let mut file = private_file::open(path, How::ReadAppend).map_err(err)?;
        end_torn_line(&mut file).map_err(err)?;
        let journal = BufWriter::new(file);
        Ok(StateFile { path: path.to_path_buf(), done, replace, journal, pending: 0 })
    }

    /// The files whose events must replace what an earlier run sent of them (not finished).
    pub fn to_replace(&self) -> &HashSet<String> {
        &self.replace
    }

    /// Records that a file failed after sending events unverified: its next reading replaces them.
    pub fn record_replace(&mut self, name: &str) -> io::Result<()> {
        if self.replace.insert(name.to_string()) {
            serde_json::to_writer(&mut self.journal, &serde_json::json!({ "replace": name }))?;
            self.journal.write_all(b"\n")?;
            self.pending += 1;
        }
        Ok(())
    }

    /// The files recorded as finished.
    pub fn done(&self) -> &HashSet<String> {
        &self.done
    }

    /// Records a finished file (call [`StateFile::sync`] to make it durable).
    pub fn record(&mut self, name: &str) -> io::Result<()> {
        if self.done.insert(name.to_string()) {
            serde_json::to_writer(&mut self.journal, name)?;
            self.journal.write_all(b"\n")?;
            self.pending += 1;
        }
        Ok(())
    }

    /// Flushes and syncs what was recorded since the last call.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.pending > 0 {
            self.journal.flush()?;
            self.journal.get_ref().sync_data()?;
            self.pending = 0;
        }
        Ok(())
    }

    /// Rewrites the journal without duplicates or torn lines: a new file (unpredictable name,
    /// created exclusively), synced, renamed over.
    pub fn compact(mut self) -> io::Result<()> {
        self.sync()?;
        private_file::replace_atomically(&self.path, |out| {
            let mut names: Vec<&String> = self.done.iter().collect();
            names.sort();
            for name in names {
                serde_json::to_writer(&mut *out, name)?;
                out.write_all(b"\n")?;
            }
            let mut replace: Vec<&String> = self.replace.difference(&self.done).collect();
            replace.sort();
            for name in replace {
                serde_json::to_writer(&mut *out, &serde_json::json!({ "replace": name }))?;
                out.write_all(b"\n")?;
            }
            Ok(())
        })
    }
}

/// `STATE.refresh` of older versions: index → the `index.refresh_interval` it had before a
/// backfill relaxed it (`None`: not set on the index, the cluster's default).
pub struct RefreshRecord {
    path: PathBuf,
}

/// What the record holds.
pub type Relaxed = BTreeMap<String, Option<String>>;

impl RefreshRecord {
    /// The record beside the journal `state`.
    pub fn beside(state: &Path) -> Self {
        let mut name = state.file_name().unwrap_or_default().to_os_string();
        name.push(".refresh");
        RefreshRecord { path: state.with_file_name(name) }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What an earlier run left relaxed (nothing when there is no record).
    pub fn load(&self) -> io::Result<Relaxed> {
        let file = match private_file::open(&self.path, How::Read) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Relaxed::new()),
            Err(e) => return Err(e),
        };
        serde_json::from_reader(BufReader::new(file)).map_err(io::Error::other)
    }

    /// Makes `relaxed` the record, durably (synced and renamed over; removed when empty).
    pub fn save(&self, relaxed: &Relaxed) -> io::Result<()> {
        if relaxed.is_empty() {
            return match fs::remove_file(&self.path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        private_file::replace_atomically(&self.path, |out| {
            serde_json::to_writer_pretty(&mut *out, relaxed).map_err(io::Error::other)
        })
    }
}

/// Ends a torn last line, so the next record starts on a line of its own.
fn end_torn_line(file: &mut File) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}

/// One line of the journal.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Line {
    Done(String),
    Replace { replace: String },
}

/// Reads a journal: the finished files, and those to replace; a line that does not parse (a
/// torn write) is ignored.
fn read_journal(reader: impl BufRead) -> io::Result<(HashSet<String>, HashSet<String>)> {
    let (mut done, mut replace) = (HashSet::new(), HashSet::new());
    for line in reader.lines() {
        match serde_json::from_str::<Line>(&line?) {
            Ok(Line::Done(name)) => drop(done.insert(name)),
            Ok(Line::Replace { replace: name }) => drop(replace.insert(name)),
            Err(_) => {}
        }
    }
    replace.retain(|name| !done.contains(name));
    Ok((done, replace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let mut state = StateFile::open(&path).unwrap();
        state.record("s3://b/a key\nwith newline").unwrap();
        state.record("b").unwrap();
        state.record("b").unwrap();
        state.sync().unwrap();
        drop(state);
        // A torn last line, as a kill -9 mid-write leaves it.
        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"\"c-partial").unwrap();
        let mut state = StateFile::open(&path).unwrap();
        assert_eq!(state.done().len(), 2);
        state.record("d").unwrap();
        state.sync().unwrap();
        drop(state);
        let state = StateFile::open(&path).unwrap();
        assert_eq!(state.done().len(), 3, "a record after a torn line is kept");
        assert!(state.done().contains("s3://b/a key\nwith newline"));
        state.compact().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 3);
        assert_eq!(StateFile::open(&path).unwrap().done().len(), 3);
    }

    #[test]
    fn files_to_replace_are_kept_until_finished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let mut state = StateFile::open(&path).unwrap();
        state.record_replace("a").unwrap();
        state.record_replace("b").unwrap();
        state.sync().unwrap();
        drop(state);
        let mut state = StateFile::open(&path).unwrap();
        assert_eq!(state.to_replace().len(), 2);
        assert!(state.done().is_empty(), "to replace is not finished");
        state.record("a").unwrap();
        state.compact().unwrap();
        let state = StateFile::open(&path).unwrap();
        assert_eq!(state.done().iter().collect::<Vec<_>>(), ["a"]);
        assert_eq!(state.to_replace().iter().collect::<Vec<_>>(), ["b"], "finished ones are dropped");
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_link_is_refused_and_its_target_left_alone() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let (path, victim) = (dir.path().join("state"), dir.path().join("victim"));
        std::fs::write(&victim, "precious\n").unwrap();
        // The old fixed temporary name, planted: compaction must not write through it.
        symlink(&victim, dir.path().join("state.tmp")).unwrap();
        let mut state = StateFile::open(&path).unwrap();
        state.record("a").unwrap();
        state.compact().unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "\"a\"\n");
        assert_eq!(path.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().filter_map(Result::ok).collect();
        assert_eq!(leftovers.len(), 3, "state, victim, the planted link: no temporary file left");
        // A link where the state goes is refused, naming the file.
        fs::remove_file(&path).unwrap();
        symlink(&victim, &path).unwrap();
        let err = StateFile::open(&path).err().unwrap().to_string();
        assert!(
            err.starts_with(&format!("--state {}: ", path.display())) && err.contains("symbolic link"),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    }

    #[test]
    fn the_refresh_record_survives_and_goes_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let record = RefreshRecord::beside(&dir.path().join("state"));
        assert_eq!(record.path(), dir.path().join("state.refresh"));
        assert!(record.load().unwrap().is_empty(), "no record, nothing relaxed");
        let mut relaxed = Relaxed::new();
        relaxed.insert("ct-2024.05.01".into(), Some("7s".into()));
        relaxed.insert("ct-2024.05.02".into(), None);
        record.save(&relaxed).unwrap();
        assert_eq!(record.load().unwrap(), relaxed);
        relaxed.clear();
        record.save(&relaxed).unwrap();
        assert!(!record.path().exists());
        record.save(&relaxed).unwrap();
    }

    #[test]
    fn an_unreadable_state_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = StateFile::open(&dir.path().join("no/such/dir/state")).err().unwrap();
        assert!(err.to_string().starts_with("--state "), "{err}");
    }
}

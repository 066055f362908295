//! Opening the files that hold whole events: dead letters, `--output` and the `--state` journal.
//!
//! They may hold secrets the user did not ask to share, so they are created readable by their
//! owner only (0600), and never opened through a symbolic link (`O_NOFOLLOW`): a link planted where
//! one of them goes (`STATE.tmp → ~/.ssh/authorized_keys`) would otherwise make the tool overwrite
//! or append to the link's target. Temporary files get an unpredictable name and are created
//! exclusively. Only the last component is checked: the folders are the user's choice.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// How to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// Append, creating the file if needed.
    Append,
    /// Read and append, creating the file if needed.
    ReadAppend,
    /// Create, or truncate what is there.
    Truncate,
    /// Create a file that must not exist yet.
    CreateNew,
    /// Read an existing file.
    Read,
}

/// Opens `path` as `how` says: created 0600, never through a symbolic link, and only if it is a
/// regular file. A link is refused with an error that says so.
pub fn open(path: &Path, how: How) -> io::Result<File> {
    let mut options = OpenOptions::new();
    match how {
        How::Append => options.append(true).create(true),
        How::ReadAppend => options.read(true).append(true).create(true),
        How::Truncate => options.write(true).create(true).truncate(true),
        How::CreateNew => options.write(true).create_new(true),
        How::Read => options.read(true),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path).map_err(|e| explain(path, e))?;
    if !file.metadata()?.is_file() && !is_null_device(path, &file) {
        return Err(io::Error::other("not a regular file; refusing to write events to it"));
    }
    Ok(file)
}

/// Turns the error `O_NOFOLLOW` gives for a link into words.
fn explain(path: &Path, e: io::Error) -> io::Error {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) && path.symlink_metadata().is_ok_and(|m| m.is_symlink()) {
        return io::Error::other(
            "it is a symbolic link; refusing to follow it (a planted link would overwrite its target): \
             remove the link or give the path of a regular file",
        );
    }
    let _ = path;
    e
}

/// A new temporary file beside `path` with an unpredictable name (`.NAME.RANDOM.tmp`), created
/// exclusively; returns it and its path.
pub fn temporary_beside(path: &Path) -> io::Result<(File, PathBuf)> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for _ in 0..16 {
        let tmp = path.with_file_name(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
        match open(&tmp, How::CreateNew) {
            Ok(file) => return Ok((file, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("cannot create a temporary file beside it"))
}

/// Replaces `path` whole or not at all: `write` fills a new temporary file beside it (see
/// [`temporary_beside`]), which is synced and renamed over `path`, and the folder synced; on
/// error the temporary file is removed and `path` is as it was.
pub fn replace_atomically(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let (file, tmp) = temporary_beside(path)?;
    let written = (|| {
        let mut out = io::BufWriter::new(file);
        write(&mut out)?;
        io::Write::flush(&mut out)?;
        out.get_ref().sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// `/dev/null` itself: writing to it discards, which is what `--output /dev/null` asks for.
fn is_null_device(path: &Path, file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        path == Path::new("/dev/null") && file.metadata().is_ok_and(|m| m.file_type().is_char_device())
    }
    #[cfg(not(unix))]
    {
        let _ = (path, file);
        false
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn files_are_private_and_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for how in [How::Append, How::ReadAppend, How::Truncate, How::CreateNew] {
            let path = dir.path().join(format!("{how:?}"));
            open(&path, how).unwrap();
            assert_eq!(path.metadata().unwrap().permissions().mode() & 0o777, 0o600, "{how:?}");
        }
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        let link = dir.path().join("link");
        symlink(&victim, &link).unwrap();
        let dangling = dir.path().join("dangling");
        symlink(dir.path().join("nowhere"), &dangling).unwrap();
        for how in [How::Append, How::ReadAppend, How::Truncate, How::CreateNew, How::Read] {
            for path in [&link, &dangling] {
                let err = open(path, how).unwrap_err().to_string();
                let want = if how == How::CreateNew { "exists" } else { "symbolic link" };
                assert!(err.contains(want), "{how:?} {}: {err}", path.display());
            }
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert!(!dir.path().join("nowhere").exists());
        let err = open(dir.path(), How::Read).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert!(open(Path::new("/dev/null"), How::Append).is_ok(), "--output /dev/null discards");
    }

    #[test]
    fn temporary_files_have_unpredictable_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let (_, a) = temporary_beside(&path).unwrap();
        let (_, b) = temporary_beside(&path).unwrap();
        assert_ne!(a, b);
        assert!(a.file_name().unwrap().to_string_lossy().starts_with(".state."));
        assert_eq!(a.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    }
}

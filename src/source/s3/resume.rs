//! A large S3 object read as a stream that survives a broken connection.
//!
//! Objects over the prefetch size are decoded while they download (`fetch.rs`), so a connection
//! that breaks off mid-body would otherwise fail the file after part of its events were sent. This
//! reader notices the break (an I/O error, or the body ending before the object's length) and asks
//! S3 for the rest with a `Range` request from the byte it reached, pinned to the object it started
//! with by `If-Match` on its ETag: the decoder sees one unbroken byte stream. Only after
//! [`RESUMES`] breaks does it give up, with an error that says where; the file is then failed (not
//! journalled, its message not deleted) and a later run reads it again from the start, which the
//! events' `_id`s make safe.

use crate::backoff::Backoff;
use crate::errors::chain;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::Client;
use std::io::{self, Read};
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;
use tracing::warn;

/// How many times one download may break off and be resumed.
pub const RESUMES: u32 = 5;

/// Waits between resumes, and between downloads of a small object whose body broke off
/// (`fetch.rs`): a broken connection is usually a passing network fault.
pub const WAITS: Backoff =
    Backoff::unbounded(std::time::Duration::from_millis(200), std::time::Duration::from_secs(5));

/// Which object, and how far it has been read.
pub struct Resuming {
    client: Client,
    runtime: Handle,
    bucket: String,
    key: String,
    /// The ETag of the version being read (`None` when S3 gave none: then not pinned).
    etag: Option<String>,
    /// The object's length.
    size: u64,
    /// Bytes handed to the reader so far.
    offset: u64,
    body: Box<dyn Read + Send>,
    resumed: u32,
}

impl Resuming {
    /// Reads `output`'s body (the whole object, `size` bytes, with this `etag`), resuming on breaks.
    pub fn new(
        client: Client,
        runtime: Handle,
        (bucket, key): (&str, &str),
        output: aws_sdk_s3::operation::get_object::GetObjectOutput,
    ) -> Self {
        let size = output.content_length().unwrap_or(0).max(0) as u64;
        let etag = output.e_tag().map(str::to_string);
        let body = Box::new(SyncIoBridge::new_with_handle(output.body.into_async_read(), runtime.clone()));
        let (bucket, key) = (bucket.to_string(), key.to_string());
        Resuming { client, runtime, bucket, key, etag, size, offset: 0, body, resumed: 0 }
    }

    /// The rest of the object, from `offset`.
    fn reopen(&self) -> io::Result<Box<dyn Read + Send>> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .range(format!("bytes={}-", self.offset))
            .set_if_match(self.etag.clone());
        let output = self.runtime.block_on(request.send()).map_err(|e| {
            let what = match e.code() {
                // Another version now: its bytes cannot continue this one's.
                Some("PreconditionFailed") => {
                    let what = "the object was replaced while it was read; a later run reads the new one";
                    return io::Error::new(io::ErrorKind::InvalidData, what);
                }
                _ => chain(&e),
            };
            io::Error::other(what)
        })?;
        let partial = output.content_range().is_some();
        let mut body: Box<dyn Read + Send> =
            Box::new(SyncIoBridge::new_with_handle(output.body.into_async_read(), self.runtime.clone()));
        if !partial && self.offset > 0 {
            // The server sent the whole object: skip what was read already.
            io::copy(&mut (&mut body).take(self.offset), &mut io::sink())?;
        }
        Ok(body)
    }
}

impl Read for Resuming {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let broke = match self.body.read(buf) {
                Ok(0) if buf.is_empty() || self.offset >= self.size => return Ok(0),
                Ok(0) => io::Error::new(io::ErrorKind::UnexpectedEof, "the body ended early"),
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => e,
            };
            let (at, size) = (self.offset, self.size);
            if self.resumed >= RESUMES {
                let what = format!(
                    "the download broke off at byte {at} of {size}, {RESUMES} times resumed: {broke}"
                );
                return Err(io::Error::new(broke.kind(), what));
            }
            self.resumed += 1;
            warn!(
                "s3://{}/{}: the download broke off at byte {at} of {size} ({broke}); resuming from there ({}/{RESUMES})",
                self.bucket, self.key, self.resumed
            );
            std::thread::sleep(WAITS.delay(self.resumed));
            match self.reopen() {
                Ok(body) => self.body = body,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => return Err(e),
                // The next read fails at once and counts as the next break.
                Err(e) => self.body = Box::new(Failing(Some(e))),
            }
        }
    }
}

/// A body that could not be opened: its read fails once with why, then reads as empty.
struct Failing(Option<io::Error>);

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        self.0.take().map_or(Ok(0), Err)
    }
}

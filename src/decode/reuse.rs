//! Buffers a reader thread keeps from one file to the next.
//!
//! Each file used to get fresh buffers — the gzip layer's held pieces, the scanner's chunk, the
//! raw bytes' read buffer — freed at its end. glibc gives freed memory at the top of an arena back
//! to the system past 128 KiB (`M_TRIM_THRESHOLD`, no longer adaptive once `M_MMAP_THRESHOLD` is
//! set, see `command/indexing.rs`), so the next file touched fresh pages again, and the pieces were
//! zeroed before each fill: page faults were a tenth of the reader's cycles
//! (docs/design/reader-speed.md). A few are kept per thread instead (at most [`KEEP`] of each size,
//! so a thread keeps about a megabyte at most, whatever the files), taken by the next file.
//! A kept buffer keeps its old bytes: its users only read what they wrote into it.

use std::cell::RefCell;
use std::io::{self, BufRead, Read};

/// At most this many buffers of each size are kept per thread.
pub const KEEP: usize = 3;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer with room for `capacity` bytes: a kept one if there is (its contents are whatever it
/// held: callers overwrite before they read), else a new empty one.
pub fn take(capacity: usize) -> Vec<u8> {
    SPARE
        .try_with(|spare| {
            let mut spare = spare.borrow_mut();
            let at = spare.iter().position(|b| b.capacity() == capacity)?;
            Some(spare.swap_remove(at))
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| Vec::with_capacity(capacity))
}

/// Gives a buffer back for the next file of this thread; dropped when enough of its size are kept.
pub fn give(buf: Vec<u8>) {
    if buf.capacity() == 0 {
        return;
    }
    let _ = SPARE.try_with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.iter().filter(|b| b.capacity() == buf.capacity()).count() < KEEP {
            spare.push(buf);
        }
    });
}

/// A buffer of `len` bytes (kept, or new and zeroed once), to be read into.
pub fn take_filled(len: usize) -> Vec<u8> {
    let mut buf = take(len);
    buf.resize(len, 0);
    buf
}

/// A `BufReader` whose buffer the thread keeps for its next file.
pub struct Buffered<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
}

impl<R> Buffered<R> {
    /// Reads `inner` through a buffer of `size` bytes.
    pub fn new(inner: R, size: usize) -> Self {
        Buffered { inner, buf: take_filled(size), pos: 0, end: 0 }
    }
}

impl<R> Drop for Buffered<R> {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.buf));
    }
}

impl<R: Read> BufRead for Buffered<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.end {
            self.end = self.inner.read(&mut self.buf)?;
            self.pos = 0;
        }
        Ok(&self.buf[self.pos..self.end])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.end);
    }
}

impl<R: Read> Read for Buffered<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.end && out.len() >= self.buf.len() {
            return self.inner.read(out);
        }
        let n = self.fill_buf()?.read(out)?;
        self.consume(n);
        Ok(n)
    }
}

/// How many buffers this thread keeps (for tests).
#[cfg(test)]
pub fn kept() -> usize {
    SPARE.with(|spare| spare.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_few_are_kept() {
        let a = take(1000);
        let at = a.as_ptr();
        give(a);
        let b = take(1000);
        assert_eq!(b.as_ptr(), at, "the same buffer again");
        give(b);
        for _ in 0..5 {
            give(Vec::with_capacity(1000));
        }
        assert_eq!(kept(), KEEP, "no more than KEEP of a size");
        let other = take(77);
        assert_eq!(other.capacity(), 77, "another size: a new one");
    }

    #[test]
    fn a_kept_read_buffer_serves_the_next_reader_its_own_bytes_only() {
        let mut first = Buffered::new(&b"0123456789"[..], 4);
        let mut all = Vec::new();
        first.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"0123456789");
        let at = first.buf.as_ptr();
        drop(first);
        let mut second = Buffered::new(&b"ab"[..], 4);
        assert_eq!(second.buf.as_ptr(), at, "the first reader's buffer");
        assert_eq!(second.fill_buf().unwrap(), b"ab", "not what the first one left in it");
        second.consume(1);
        assert_eq!(second.fill_buf().unwrap(), b"b");
        second.consume(1);
        assert_eq!(second.fill_buf().unwrap(), b"", "the end");
    }
}

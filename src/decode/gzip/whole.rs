//! Whole gzip members decompressed in one call, with libdeflate.
//!
//! Why: inflating was about a quarter of the reader's cycles (docs/design/reader-speed.md), and a
//! member is held in memory until its checksum holds anyway (`mod.rs`). So when the rest of a
//! file's compressed bytes is small (at most an eighth of the hold limit, read ahead once per file:
//! [`Ahead`]), each member is decompressed whole, by libdeflate, which is faster than a streaming
//! inflater and checks the member's CRC and size itself, into one buffer of at most the hold limit
//! less what was read ahead: a reader thread holds no more than it did.
//!
//! This is only a faster way to the same text: a member that fails here for any reason (damaged,
//! truncated, bigger than the room left, libdeflate out of memory) is read again from its first byte
//! by the streaming path, which says what is wrong with it as before. The streaming path also takes
//! every member of a file too big to read ahead, and every member when the last four bytes of the
//! file (the last member's size, as it says: untrusted, modulo 2^32) say it would not fit.
//!
//! A thread keeps its decompressor, its text buffer and its read-ahead buffer for its next file, as
//! long as each has touched no more than [`KEEP_BYTES`] (fresh buffers cost page faults).

use std::cell::RefCell;
use std::io::{self, BufRead, Read};
use std::ptr::NonNull;

use libdeflate_sys as sys;

/// A thread keeps a buffer of this path for its next file only if no more of it was touched.
const KEEP_BYTES: usize = 4 << 20;

thread_local! {
    static KEPT_WHOLE: RefCell<Option<Whole>> = const { RefCell::new(None) };
    static KEPT_INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

#[cfg(test)]
thread_local! {
    /// Members this thread decompressed whole (for tests).
    pub static INFLATED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A libdeflate decompressor.
struct Inflater(NonNull<sys::libdeflate_decompressor>);

impl Inflater {
    /// A new decompressor; `None` when libdeflate could not allocate one.
    fn new() -> Option<Self> {
        // SAFETY: takes no argument; returns a decompressor we own, or null when out of memory.
        NonNull::new(unsafe { sys::libdeflate_alloc_decompressor() }).map(Inflater)
    }

    /// Decompresses the gzip member at the start of `input` into `out` (cleared first), writing at
    /// most `limit` bytes into its spare capacity; returns how many bytes of `input` the member
    /// took, or `None` when it is damaged, truncated or bigger than that.
    fn member(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Option<usize> {
        out.clear();
        let spare = out.spare_capacity_mut();
        let avail = limit.min(spare.len());
        let (mut used, mut len) = (0usize, 0usize);
        // SAFETY: `input` is readable for `input.len()` bytes and `spare` writable for `avail`;
        // libdeflate reads no more, writes no more, and reads of the output only what it wrote.
        // The decompressor is ours and `&mut self` makes this call its only user.
        let result = unsafe {
            sys::libdeflate_gzip_decompress_ex(
                self.0.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                spare.as_mut_ptr().cast(),
                avail,
                &mut used,
                &mut len,
            )
        };
        if result != sys::libdeflate_result_LIBDEFLATE_SUCCESS || len > avail || used > input.len() {
            return None;
        }
        // SAFETY: on success libdeflate wrote `len` (≤ `avail` ≤ the spare capacity) bytes from
        // the start of the spare capacity.
        unsafe { out.set_len(len) };
        Some(used)
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: the decompressor is ours, allocated by libdeflate and freed once.
        unsafe { sys::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

/// The text of the member last decompressed whole, and how much of it was served.
pub struct Whole {
    inflater: Option<Inflater>,
    text: Vec<u8>,
    served: usize,
    /// How much of `text`'s allocation was ever written.
    touched: usize,
}

impl Whole {
    /// The one this thread kept, or a new one.
    pub fn take() -> Self {
        KEPT_WHOLE.try_with(|kept| kept.borrow_mut().take()).ok().flatten().unwrap_or_else(|| Whole {
            inflater: Inflater::new(),
            text: Vec::new(),
            served: 0,
            touched: 0,
        })
    }

    /// Decompresses the member at the start of `input`, of at most `limit` bytes of text, to be
    /// served; `room` is the capacity asked for the text (the hold limit: the same allocation
    /// then serves every member and file). Returns how many bytes of `input` it took, or `None`:
    /// then nothing is served, and the member is to be read by the streaming path.
    pub fn member(&mut self, input: &[u8], limit: usize, room: usize) -> Option<usize> {
        self.served = 0;
        self.text.clear();
        let inflater = self.inflater.as_mut()?;
        self.text.try_reserve_exact(room).ok()?;
        let used = inflater.member(input, &mut self.text, limit);
        // On failure libdeflate may have written up to `limit` bytes: given back at once if that
        // is much, as the streaming path is about to hold the same member again.
        self.touched = self.touched.max(if used.is_some() { self.text.len() } else { limit });
        if used.is_none() && self.touched > KEEP_BYTES {
            (self.text, self.touched) = (Vec::new(), 0);
        }
        #[cfg(test)]
        if used.is_some() {
            INFLATED.with(|n| n.set(n.get() + 1));
        }
        used
    }

    /// The bytes allocated for the text (for tests).
    #[cfg(test)]
    pub fn allocated(&self) -> usize {
        self.text.capacity()
    }

    /// Copies text not yet served into `out`; 0 when all of it was.
    pub fn serve(&mut self, out: &mut [u8]) -> usize {
        let rest = &self.text[self.served..];
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.served += n;
        n
    }

    /// Gives this to the thread's next file, unless its buffer touched too much memory to keep.
    pub fn give(mut self) {
        if self.touched > KEEP_BYTES {
            self.text = Vec::new();
            self.touched = 0;
        }
        self.text.clear();
        let _ = KEPT_WHOLE.try_with(|kept| *kept.borrow_mut() = Some(self));
    }
}

/// How far the compressed bytes were read ahead.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Not at all yet.
    NotYet,
    /// To the end of the input.
    End,
    /// Only its start: the input is longer than the read-ahead limit (or its source failed).
    Start,
}

/// The compressed bytes: read ahead into memory once, when asked, then passed on from there before
/// the rest of `R`. An error met while reading ahead is passed on where it was met.
pub struct Ahead<R> {
    raw: R,
    buf: Vec<u8>,
    pos: usize,
    error: Option<io::Error>,
    reach: Reach,
}

impl<R: BufRead> Ahead<R> {
    /// Reads `raw`, nothing ahead yet.
    pub fn new(raw: R) -> Self {
        Ahead { raw, buf: Vec::new(), pos: 0, error: None, reach: Reach::NotYet }
    }

    /// The rest of the input when it is at most about `limit` bytes long (read ahead the first
    /// time; `None` ever after if it was longer or its source failed).
    pub fn rest(&mut self, limit: usize) -> Option<&[u8]> {
        if self.reach == Reach::NotYet {
            self.read_ahead(limit);
        }
        (self.reach == Reach::End).then(|| &self.buf[self.pos..])
    }

    /// Bytes held in memory by the read-ahead.
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    fn read_ahead(&mut self, limit: usize) {
        self.buf = KEPT_INPUT.try_with(|kept| std::mem::take(&mut *kept.borrow_mut())).unwrap_or_default();
        self.buf.clear();
        self.pos = 0;
        self.reach = loop {
            match self.raw.fill_buf() {
                Ok([]) => break Reach::End,
                Ok(bytes) => {
                    let n = bytes.len();
                    self.buf.extend_from_slice(bytes);
                    self.raw.consume(n);
                    if self.buf.len() > limit {
                        break Reach::Start;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e);
                    break Reach::Start;
                }
            }
        };
    }
}

impl<R: BufRead> BufRead for Ahead<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos < self.buf.len() {
            return Ok(&self.buf[self.pos..]);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.raw.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if self.pos < self.buf.len() {
            self.pos = (self.pos + n).min(self.buf.len());
        } else {
            self.raw.consume(n);
        }
    }
}

impl<R: BufRead> Read for Ahead<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.fill_buf()?.read(out)?;
        self.consume(n);
        Ok(n)
    }
}

impl<R> Drop for Ahead<R> {
    /// The buffer goes to the thread's next file if it touched little enough memory.
    fn drop(&mut self) {
        if self.buf.len() <= KEEP_BYTES && self.buf.capacity() > 0 {
            let buf = std::mem::take(&mut self.buf);
            let _ = KEPT_INPUT.try_with(|kept| *kept.borrow_mut() = buf);
        }
    }
}

/// The size the last member of `input` declares (its last four bytes, little-endian).
pub fn declared_size(input: &[u8]) -> Option<usize> {
    let tail: [u8; 4] = input.get(input.len().checked_sub(4)?..)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(tail)).ok()
}

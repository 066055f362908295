//! gzip, one member at a time, with each member's events held until its checksum holds.
//!
//! gzip checks a member's CRC-32 only at its end, so text decoded from a damaged member is
//! wrong until then, and events read from it would be indexed with altered content that a re-run
//! of the repaired file cannot replace (`create` keeps the first copy). So a member is
//! decompressed whole into memory before any of it is passed on, as long as it is no bigger
//! than the hold limit (`DecodeSettings::hold_bytes`, 64 MiB by default: a CloudTrail log file
//! is one member holding about five minutes of one region's events, and a CloudWatch Logs
//! payload is one member of at most about 1 MB, so practically every member is held, while a
//! reader thread never holds more than that). A bigger member is passed on as it decompresses,
//! and [`GzState`] says so, so that the decoder can count what it released before the checksum
//! and report it if the member turns out damaged.
//!
//! When a file's compressed bytes are few enough to read ahead whole, each member is decompressed in
//! one call instead (`whole.rs`): the same text, faster; any member that fails there is read again
//! here, from its first byte, as it always was.
//!
//! Members follow each other with no separator (Firehose writes one per CloudWatch Logs payload).
//! Bytes after the last member that do not start another one are not decompressed: they are
//! counted as [`Trailing`] (zero padding, or junk), and the decoder decides what they mean.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

use flate2::bufread::GzDecoder;

use super::reuse;
use whole::{declared_size, Ahead, Whole};

mod whole;

/// The two bytes every gzip member starts with.
pub const MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Decompressed text is held in pieces of this size (so that holding never copies).
const PIECE: usize = 256 * 1024;

/// Bytes found after the last gzip member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trailing {
    /// How many.
    pub bytes: u64,
    /// Whether they are all zero bytes or whitespace (padding, not data).
    pub padding: bool,
    /// How many members came before them.
    pub members: u64,
}

/// What the gzip layer tells the decoder while it reads.
#[derive(Debug, Default)]
pub struct GzState {
    /// Members started so far: the number of the current one.
    pub member: Cell<u64>,
    /// The current member is passed on before its checksum was checked.
    pub unverified: Cell<bool>,
    /// Events the decoder released while `unverified` held, in the current member.
    pub unverified_events: Cell<u64>,
    /// Set at the end of the stream when bytes followed the last member.
    pub trailing: Cell<Option<Trailing>>,
}

enum Stage<R> {
    /// Between members (or before the first).
    Between(Ahead<R>),
    /// Decompressing a member into `held`; the number is how much is held.
    Holding(GzDecoder<Ahead<R>>, usize),
    /// Passing a member on as it decompresses.
    Streaming(GzDecoder<Ahead<R>>),
    /// End of stream (or after an error).
    Done,
}

/// Reads the decompressed text of consecutive gzip members from `R`.
pub struct Members<R> {
    stage: Stage<R>,
    hold: usize,
    /// Pieces of decompressed text (each `PIECE` long) and how much of each is text.
    held: VecDeque<(Vec<u8>, usize)>,
    /// Read position in `held.front()`.
    served: usize,
    /// Pieces served, for the next ones (`PIECE` long, old text in them).
    spare: Vec<Vec<u8>>,
    /// The member last decompressed whole (`whole.rs`), once one was tried.
    whole: Option<Whole>,
    state: Rc<GzState>,
}

impl<R: BufRead> Members<R> {
    /// Reads members from `raw`, holding each one up to `hold` decompressed bytes.
    pub fn new(raw: R, hold: usize, state: Rc<GzState>) -> Self {
        Members {
            stage: Stage::Between(Ahead::new(raw)),
            hold,
            held: VecDeque::new(),
            served: 0,
            spare: Vec::new(),
            whole: None,
            state,
        }
    }

    /// Copies held text to `out`; 0 when nothing is held.
    fn serve(&mut self, out: &mut [u8]) -> usize {
        if let Some(n) = self.whole.as_mut().map(|whole| whole.serve(out)).filter(|&n| n > 0) {
            return n;
        }
        let Some((front, len)) = self.held.front() else { return 0 };
        let n = (len - self.served).min(out.len());
        out[..n].copy_from_slice(&front[self.served..self.served + n]);
        self.served += n;
        if self.served == *len {
            let (piece, _) = self.held.pop_front().expect("front exists");
            self.served = 0;
            if self.spare.len() < 4 {
                self.spare.push(piece);
            }
        }
        n
    }

    /// Decompresses up to one piece into `held`; returns how much, 0 at the member's end.
    /// Pieces are `PIECE` bytes long whatever they hold, and a reused one is not zeroed first: only
    /// the `len` bytes written into it are ever read.
    fn hold_piece(&mut self, dec: &mut GzDecoder<Ahead<R>>) -> io::Result<usize> {
        let mut piece = self.spare.pop().unwrap_or_else(|| reuse::take_filled(PIECE));
        let mut len = 0;
        while len < PIECE {
            match dec.read(&mut piece[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.spare.push(piece);
                    return Err(e);
                }
            }
        }
        if len > 0 {
            self.held.push_back((piece, len));
        } else {
            self.spare.push(piece);
        }
        Ok(len)
    }

    /// At a member boundary: starts the next member, or ends the stream.
    /// Whitespace between members (Firehose can put a newline after each record) and after the
    /// last one is skipped.
    fn next_member(&mut self, mut raw: Ahead<R>) -> io::Result<()> {
        let mut skipped = 0u64;
        loop {
            let ws = raw.fill_buf()?.iter().take_while(|b| b.is_ascii_whitespace()).count();
            if ws == 0 {
                break;
            }
            raw.consume(ws);
            skipped += ws as u64;
        }
        let head = raw.fill_buf()?;
        if head.is_empty() {
            // Whitespace at the end is no more than at the end of a JSON file: not reported.
            return Ok(());
        }
        if head[0] == MAGIC[0] && head.get(1).is_none_or(|&b| b == MAGIC[1]) {
            self.state.member.set(self.state.member.get() + 1);
            if self.inflate_whole(&mut raw) {
                self.stage = Stage::Between(raw);
                return Ok(());
            }
            let dec = GzDecoder::new(raw);
            self.stage = if self.hold == 0 { self.unverified(dec) } else { Stage::Holding(dec, 0) };
            return Ok(());
        }
        let mut trailing = Trailing { bytes: skipped, padding: true, members: self.state.member.get() };
        loop {
            let rest = raw.fill_buf()?;
            if rest.is_empty() {
                break;
            }
            let n = rest.len();
            trailing.bytes += n as u64;
            trailing.padding &= rest.iter().all(|&b| b == 0 || b.is_ascii_whitespace());
            raw.consume(n);
        }
        self.state.trailing.set(Some(trailing));
        Ok(())
    }

    /// Decompresses the member starting `raw` whole, when the rest of the input was read ahead
    /// and the text fits in the hold limit less that (`whole.rs`); false when it was not.
    fn inflate_whole(&mut self, raw: &mut Ahead<R>) -> bool {
        if self.hold == 0 {
            return false;
        }
        // What is read ahead is held too: the text gets the hold limit less that.
        let ahead = self.hold / 8;
        if raw.rest(ahead).is_none() {
            return false;
        }
        let limit = self.hold.saturating_sub(raw.held());
        let Some(rest) = raw.rest(ahead) else { return false };
        if declared_size(rest).is_none_or(|size| size > limit) {
            return false;
        }
        let (hold, whole) = (self.hold, self.whole.get_or_insert_with(Whole::take));
        match whole.member(rest, limit, hold) {
            Some(used) => {
                raw.consume(used);
                true
            }
            None => false,
        }
    }

    fn unverified(&self, dec: GzDecoder<Ahead<R>>) -> Stage<R> {
        self.state.unverified.set(true);
        self.state.unverified_events.set(0);
        Stage::Streaming(dec)
    }
}

impl<R: BufRead> Read for Members<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            // Nothing of a member is passed on while it is being held.
            if !matches!(self.stage, Stage::Holding(..)) {
                let n = self.serve(out);
                if n > 0 {
                    return Ok(n);
                }
            }
            match std::mem::replace(&mut self.stage, Stage::Done) {
                Stage::Between(raw) => {
                    self.next_member(raw)?;
                    if matches!(self.stage, Stage::Done) {
                        return Ok(0);
                    }
                }
                Stage::Holding(mut dec, held) => match self.hold_piece(&mut dec) {
                    // The member ended and its checksum held: pass it on.
                    Ok(0) => self.stage = Stage::Between(dec.into_inner()),
                    Ok(n) if held + n >= self.hold => self.stage = self.unverified(dec),
                    Ok(n) => self.stage = Stage::Holding(dec, held + n),
                    Err(e) => {
                        // Nothing of a damaged member is passed on.
                        self.held.clear();
                        return Err(e);
                    }
                },
                Stage::Streaming(mut dec) => {
                    let n = dec.read(out)?;
                    if n == 0 {
                        self.state.unverified.set(false);
                        self.stage = Stage::Between(dec.into_inner());
                    } else {
                        self.stage = Stage::Streaming(dec);
                        return Ok(n);
                    }
                }
                Stage::Done => return Ok(0),
            }
        }
    }
}

impl<R> Drop for Members<R> {
    /// The pieces go to the next file this thread reads (`reuse.rs`).
    fn drop(&mut self) {
        self.spare.drain(..).chain(self.held.drain(..).map(|(piece, _)| piece)).for_each(reuse::give);
        if let Some(whole) = self.whole.take() {
            whole.give();
        }
    }
}

/// Wraps the raw source, noting whether an error came from it (rather than from decoding).
pub struct Source<R> {
    inner: R,
    failed: Rc<Cell<bool>>,
}

impl<R> Source<R> {
    /// Wraps `inner`; `failed` is set when one of its reads fails.
    pub fn new(inner: R, failed: Rc<Cell<bool>>) -> Self {
        Source { inner, failed }
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Interrupted {
                self.failed.set(true);
            }
        })
    }
}

#[cfg(test)]
mod tests;

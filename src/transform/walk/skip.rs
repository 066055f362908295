//! The walker's fast path: validating one value without tracking paths, where no rule can match.
//! Iterative rather than recursive, so that it is cheap however deep the value goes (up to the
//! nesting limit).

use super::{Walk, WalkError, MAX_DEPTH};

impl Walk<'_, '_> {
    /// Validates and copies one value, without tracking paths: the fast path. Iterative, with the
    /// kinds of the containers it opened as bits of a `u128` (1 = object), since at most 127 can be.
    pub(super) fn skip_value(&mut self) -> Result<(), WalkError> {
        let (mut stack, mut open) = (0u128, 0usize);
        'value: loop {
            match self.peek()? {
                b'{' => {
                    if self.depth + open >= MAX_DEPTH {
                        return Err(self.err("nested more than 127 levels deep"));
                    }
                    self.pos += 1;
                    self.ws();
                    if self.peek()? == b'}' {
                        self.pos += 1;
                    } else {
                        (stack, open) = ((stack << 1) | 1, open + 1);
                        self.member_key()?;
                        continue 'value;
                    }
                }
                b'[' => {
                    if self.depth + open >= MAX_DEPTH {
                        return Err(self.err("nested more than 127 levels deep"));
                    }
                    self.pos += 1;
                    self.ws();
                    if self.peek()? == b']' {
                        self.pos += 1;
                    } else {
                        (stack, open) = (stack << 1, open + 1);
                        continue 'value;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return Err(self.err("expected a value")),
            }
            // A value ended: close containers until one has another item.
            while open > 0 {
                self.ws();
                let object = stack & 1 == 1;
                match (self.peek()?, object) {
                    (b',', true) => {
                        self.pos += 1;
                        self.ws();
                        self.member_key()?;
                        continue 'value;
                    }
                    (b',', false) => {
                        self.pos += 1;
                        self.ws();
                        continue 'value;
                    }
                    (b'}', true) | (b']', false) => {
                        self.pos += 1;
                        (stack, open) = (stack >> 1, open - 1);
                    }
                    (_, true) => return Err(self.err("expected ',' or '}'")),
                    (_, false) => return Err(self.err("expected ',' or ']'")),
                }
            }
            return Ok(());
        }
    }

    /// `"key":` and the whitespace after it.
    fn member_key(&mut self) -> Result<(), WalkError> {
        if self.peek()? != b'"' {
            return Err(self.err("expected a string key"));
        }
        self.string()?;
        self.ws();
        if self.peek()? != b':' {
            return Err(self.err("expected ':'"));
        }
        self.pos += 1;
        self.ws();
        Ok(())
    }
}

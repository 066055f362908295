//! What the walker needs to know at each path: the rules compiled into one [`Matcher`] whose
//! states carry an [`Accept`] (redaction mode, capture slots, conditional rules), and the look-ahead
//! that decides conditional rules (`redact.rs`'s `Condition`), which a sibling decides wherever it
//! comes in its object.

use super::Walk;
use super::WalkError;
use crate::transform::capture::string_text;
use crate::transform::matcher::{Matcher, TooComplex};
use crate::transform::path::FieldPath;
use crate::transform::redact::{RedactMode, RedactRule};

/// What the rules say about one path, for [`Matcher`] states.
#[derive(Clone, Debug, Default)]
pub struct Accept {
    /// Hide the value here (the winning rule's mode).
    pub redact: Option<RedactMode>,
    /// Capture slots the value here belongs to.
    pub captures: Box<[u16]>,
    /// Members of the object here to hide when a sibling holds a given string.
    pub conditions: Box<[Conditional]>,
}

/// A conditional rule, kept at the state of the object that holds the field: hide member `key`
/// with `mode` when member `sibling` is the string `equals`.
#[derive(Clone, Debug)]
pub struct Conditional {
    key: Box<[u8]>,
    sibling: Box<[u8]>,
    equals: Box<str>,
    mode: RedactMode,
}

impl Conditional {
    /// The mode for member `key` (unescaped) when this rule is active in its object.
    pub(super) fn mode_for(&self, key: &[u8]) -> Option<RedactMode> {
        (*self.key == *key).then_some(self.mode)
    }
}

/// The automaton for redaction rules plus captured paths. Payloads: the last matching rule's mode
/// (unconditional rules are indexes `0..n`), the slots of the captured paths ending there, and the
/// conditional rules whose object is there (their parent paths come next, then their own paths,
/// which mean nothing but make the walker descend to them).
pub fn compile(rules: &[RedactRule], captured: &[FieldPath]) -> Result<Matcher<Accept>, TooComplex> {
    let plain: Vec<&RedactRule> = rules.iter().filter(|r| r.when.is_none()).collect();
    let mut conditional = Vec::new();
    let mut parents = Vec::new();
    for rule in rules {
        let (Some(when), Some((parent, key))) = (&rule.when, rule.path.split_last_key()) else { continue };
        conditional.push(Conditional {
            key: key.as_bytes().into(),
            sibling: when.sibling.as_bytes().into(),
            equals: when.equals.as_str().into(),
            mode: rule.mode,
        });
        parents.push(parent);
    }
    let mut paths: Vec<&FieldPath> = plain.iter().map(|r| &r.path).collect();
    paths.extend(captured);
    paths.extend(&parents);
    // The conditional fields themselves, with no payload: so that the walker descends to them.
    paths.extend(rules.iter().filter(|r| r.when.is_some()).map(|r| &r.path));
    let (n, m, c) = (plain.len(), plain.len() + captured.len(), plain.len() + captured.len() + parents.len());
    Matcher::new(&paths, |ends| Accept {
        redact: ends.iter().rev().find(|&&i| (i as usize) < n).map(|&i| plain[i as usize].mode),
        captures: ends
            .iter()
            .filter(|&&i| (n..m).contains(&(i as usize)))
            .map(|&i| (i as usize - n) as u16)
            .collect(),
        conditions: ends
            .iter()
            .filter(|&&i| (m..c).contains(&(i as usize)))
            .map(|&i| conditional[i as usize - m].clone())
            .collect(),
    })
}

impl Walk<'_, '_> {
    /// Which of `conditions` hold for the object at `self.pos`: its members are read ahead (nothing
    /// is written, and the walk resumes where it was), since a sibling may come after the field it
    /// decides. An invalid object activates what was read before the error; the walk reports it.
    pub(super) fn active(&mut self, conditions: &[Conditional]) -> Vec<usize> {
        let saved = (self.pos, self.mark);
        self.quiet += 1;
        let mut active = Vec::new();
        let _ = self.read_siblings(conditions, &mut active);
        self.quiet -= 1;
        (self.pos, self.mark) = saved;
        active
    }

    fn read_siblings(
        &mut self,
        conditions: &[Conditional],
        active: &mut Vec<usize>,
    ) -> Result<(), WalkError> {
        self.pos += 1;
        self.ws();
        if self.peek()? == b'}' {
            return Ok(());
        }
        loop {
            if self.peek()? != b'"' {
                return Err(self.err("expected a string key"));
            }
            let (key_start, key_end, _) = self.string()?;
            let key = string_text(&self.src[key_start - 1..=key_end]);
            self.ws();
            if self.peek()? != b':' {
                return Err(self.err("expected ':'"));
            }
            self.pos += 1;
            self.ws();
            let value = self.pos;
            self.skip_value()?;
            let raw = &self.src[value..self.pos];
            for (i, c) in conditions.iter().enumerate() {
                if *c.sibling == *key.as_bytes()
                    && raw.first() == Some(&b'"')
                    && *string_text(raw) == *c.equals
                {
                    active.push(i);
                }
            }
            self.ws();
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    self.ws();
                }
                _ => return Ok(()),
            }
        }
    }
}

//! Source spans. Spans locate diagnostics; they are not part of the AST's meaning, so two
//! spans always compare equal and the JSON form has none.

/// A byte range `start..end` in the policy source.
#[derive(Clone, Copy, Debug, Default, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The span `start..end`.
    pub const fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest span covering `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl PartialEq for Span {
    /// Spans never make two ASTs differ.
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

//! Conditions on a string, and their conjunctions.

use std::collections::BTreeSet;

use crate::policy::ast::Operator;

/// A condition on a string.
#[derive(Clone, Debug)]
pub(super) enum StrAtom {
    /// One of these.
    In(BTreeSet<String>),
    /// None of these.
    NotIn(BTreeSet<String>),
    /// Starts with the prefix (`true`) or does not (`false`).
    Prefix(String, bool),
    /// Matches the pattern (`true`) or does not (`false`).
    Other(Pattern, bool),
}

/// `ends_with`, `contains`, `matches` or `~` with its literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Pattern {
    pub(super) op: Operator,
    pub(super) text: String,
}

impl Pattern {
    /// Whether `value` matches, if cheap to tell.
    fn eval(&self, value: &str) -> Option<bool> {
        match self.op {
            Operator::EndsWith => Some(value.ends_with(self.text.as_str())),
            Operator::Contains => Some(value.contains(self.text.as_str())),
            _ => None,
        }
    }
}

impl StrAtom {
    pub(super) fn negate(&self) -> StrAtom {
        match self {
            StrAtom::In(values) => StrAtom::NotIn(values.clone()),
            StrAtom::NotIn(values) => StrAtom::In(values.clone()),
            StrAtom::Prefix(prefix, holds) => StrAtom::Prefix(prefix.clone(), !holds),
            StrAtom::Other(pattern, holds) => StrAtom::Other(pattern.clone(), !holds),
        }
    }

    /// Whether `value` satisfies the atom, if that can be told.
    fn eval(&self, value: &str) -> Option<bool> {
        match self {
            StrAtom::In(values) => Some(values.contains(value)),
            StrAtom::NotIn(values) => Some(!values.contains(value)),
            StrAtom::Prefix(prefix, holds) => Some(value.starts_with(prefix.as_str()) == *holds),
            StrAtom::Other(pattern, holds) => pattern.eval(value).map(|m| m == *holds),
        }
    }
}

/// A conjunction of string atoms, normalised: the candidates of its lists (those no
/// other atom rules out), and the other atoms.
pub(super) struct StrCons<'v> {
    pub(super) finite: Option<Vec<&'v str>>,
    others: Vec<&'v StrAtom>,
}

impl<'v> StrCons<'v> {
    pub(super) fn new(atoms: &'v [StrAtom]) -> Self {
        let mut finite: Option<BTreeSet<&'v str>> = None;
        let mut others = Vec::new();
        for atom in atoms {
            match atom {
                StrAtom::In(values) => {
                    finite = Some(match finite {
                        None => values.iter().map(String::as_str).collect(),
                        Some(known) => known.into_iter().filter(|v| values.contains(*v)).collect(),
                    });
                }
                other => others.push(other),
            }
        }
        let finite = finite.map(|candidates| {
            candidates
                .into_iter()
                .filter(|v| others.iter().all(|atom| atom.eval(v) != Some(false)))
                .collect()
        });
        Self { finite, others }
    }

    pub(super) fn prefixes(&self, holds: bool) -> impl Iterator<Item = &'v str> + '_ {
        self.others
            .iter()
            .copied()
            .filter_map(move |atom| match atom {
                StrAtom::Prefix(prefix, h) if *h == holds => Some(prefix.as_str()),
                _ => None,
            })
    }

    fn suffixes(&self) -> impl Iterator<Item = &'v str> + '_ {
        self.others.iter().copied().filter_map(|atom| match atom {
            StrAtom::Other(pattern, true) if pattern.op == Operator::EndsWith => {
                Some(pattern.text.as_str())
            }
            _ => None,
        })
    }

    /// Whether no string satisfies every atom (`false` when unsure).
    pub(super) fn is_empty(&self) -> bool {
        if let Some(finite) = &self.finite {
            return finite.is_empty();
        }
        let clash = |a: &str, b: &str| !a.starts_with(b) && !b.starts_with(a);
        let suffix_clash = |a: &str, b: &str| !a.ends_with(b) && !b.ends_with(a);
        let prefixes: Vec<&str> = self.prefixes(true).collect();
        let suffixes: Vec<&str> = self.suffixes().collect();
        pairs(&prefixes).any(|(a, b)| clash(a, b))
            || pairs(&suffixes).any(|(a, b)| suffix_clash(a, b))
            || self
                .prefixes(false)
                .any(|q| q.is_empty() || prefixes.iter().any(|p| p.starts_with(q)))
            || self.others.iter().any(|atom| match atom {
                StrAtom::Other(pattern, true) => self
                    .others
                    .iter()
                    .any(|other| matches!(other, StrAtom::Other(p, false) if p == pattern)),
                _ => false,
            })
    }

    /// Whether every string satisfying `self` satisfies `atom` (`false` when unsure; the
    /// caller tests emptiness).
    pub(super) fn within(&self, atom: &StrAtom) -> bool {
        if let Some(finite) = &self.finite {
            return finite.iter().all(|v| atom.eval(v) == Some(true));
        }
        match atom {
            StrAtom::In(_) => false,
            StrAtom::NotIn(values) => values
                .iter()
                .all(|v| self.others.iter().any(|mine| mine.eval(v) == Some(false))),
            StrAtom::Prefix(q, true) => self.prefixes(true).any(|p| p.starts_with(q.as_str())),
            StrAtom::Prefix(q, false) => {
                self.prefixes(true)
                    .any(|p| !p.starts_with(q.as_str()) && !q.starts_with(p))
                    || self.prefixes(false).any(|p| q.starts_with(p))
            }
            StrAtom::Other(pattern, holds) => self
                .others
                .iter()
                .any(|mine| pattern_within(mine, pattern, *holds)),
        }
    }
}

/// Every pair of distinct positions of `items`.
fn pairs<'i, T: Copy>(items: &'i [T]) -> impl Iterator<Item = (T, T)> + 'i {
    items
        .iter()
        .enumerate()
        .flat_map(move |(i, a)| items[i + 1..].iter().map(move |b| (*a, *b)))
}

/// Whether strings satisfying `mine` all match `pattern` (`holds`) or all do not.
fn pattern_within(mine: &StrAtom, pattern: &Pattern, holds: bool) -> bool {
    match mine {
        StrAtom::Other(other, h) if other == pattern && *h == holds => true,
        _ if !holds => false,
        StrAtom::Prefix(prefix, true) => {
            pattern.op == Operator::Contains && prefix.contains(pattern.text.as_str())
        }
        StrAtom::Other(other, true) => match (other.op, pattern.op) {
            (Operator::EndsWith, Operator::EndsWith) => other.text.ends_with(pattern.text.as_str()),
            (Operator::EndsWith | Operator::Contains, Operator::Contains) => {
                other.text.contains(pattern.text.as_str())
            }
            _ => false,
        },
        _ => false,
    }
}

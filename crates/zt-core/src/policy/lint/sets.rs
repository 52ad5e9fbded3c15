//! Conditions on a set of strings, and their conjunctions.

use std::collections::BTreeSet;

/// A condition on a set of strings.
#[derive(Clone, Debug)]
pub(super) enum SetAtom {
    /// Has every one (`has`, `has-all`).
    All(BTreeSet<String>),
    /// Has at least one (`has-any`).
    Any(BTreeSet<String>),
    /// Has none.
    NoneOf(BTreeSet<String>),
    /// Lacks at least one.
    NotAll(BTreeSet<String>),
}

impl SetAtom {
    pub(super) fn negate(&self) -> SetAtom {
        match self {
            SetAtom::All(values) => SetAtom::NotAll(values.clone()),
            SetAtom::Any(values) => SetAtom::NoneOf(values.clone()),
            SetAtom::NoneOf(values) => SetAtom::Any(values.clone()),
            SetAtom::NotAll(values) => SetAtom::All(values.clone()),
        }
    }
}

/// A conjunction of set atoms, normalised: required and forbidden members, and the
/// `has-any` / lacks-one-of groups that are left.
pub(super) struct SetCons<'v> {
    pub(super) req: BTreeSet<&'v str>,
    forb: BTreeSet<&'v str>,
    anys: Vec<BTreeSet<&'v str>>,
    not_alls: Vec<BTreeSet<&'v str>>,
}

impl<'v> SetCons<'v> {
    pub(super) fn new(atoms: &'v [SetAtom]) -> Self {
        let mut cons = SetCons {
            req: BTreeSet::new(),
            forb: BTreeSet::new(),
            anys: Vec::new(),
            not_alls: Vec::new(),
        };
        let view = |values: &'v BTreeSet<String>| values.iter().map(String::as_str);
        for atom in atoms {
            match atom {
                SetAtom::All(values) => cons.req.extend(view(values)),
                SetAtom::NoneOf(values) => cons.forb.extend(view(values)),
                SetAtom::Any(values) => cons.anys.push(view(values).collect()),
                SetAtom::NotAll(values) => cons.not_alls.push(view(values).collect()),
            }
        }
        cons.reduce();
        cons
    }

    /// Drops forbidden members from `has-any` groups and required ones from lacks-one-of
    /// groups; a group of one becomes required (forbidden).
    fn reduce(&mut self) {
        let SetCons {
            req,
            forb,
            anys,
            not_alls,
        } = self;
        for _ in 0..=anys.len() + not_alls.len() {
            let mut changed = false;
            for group in anys.iter_mut() {
                group.retain(|v| !forb.contains(v));
                if let [only] = group.iter().copied().collect::<Vec<_>>().as_slice() {
                    changed |= req.insert(*only);
                }
            }
            for group in not_alls.iter_mut() {
                group.retain(|v| !req.contains(v));
                if let [only] = group.iter().copied().collect::<Vec<_>>().as_slice() {
                    changed |= forb.insert(*only);
                }
            }
            if !changed {
                break;
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        !self.req.is_disjoint(&self.forb)
            || self.anys.iter().any(BTreeSet::is_empty)
            || self.not_alls.iter().any(BTreeSet::is_empty)
    }

    /// Whether every set satisfying `self` satisfies `atom` (`false` when unsure; the
    /// caller tests emptiness).
    pub(super) fn within(&self, atom: &SetAtom) -> bool {
        let has = |set: &BTreeSet<&str>, v: &String| set.contains(v.as_str());
        match atom {
            SetAtom::All(values) => values.iter().all(|v| has(&self.req, v)),
            SetAtom::NoneOf(values) => values.iter().all(|v| has(&self.forb, v)),
            SetAtom::Any(values) => {
                values.iter().any(|v| has(&self.req, v))
                    || self
                        .anys
                        .iter()
                        .any(|group| group.iter().all(|v| values.contains(*v)))
            }
            SetAtom::NotAll(values) => {
                values.iter().any(|v| has(&self.forb, v))
                    || self
                        .not_alls
                        .iter()
                        .any(|group| group.iter().all(|v| values.contains(*v)))
            }
        }
    }
}

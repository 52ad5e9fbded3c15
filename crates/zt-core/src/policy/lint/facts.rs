//! Facts: per attribute, whether it may be absent and which present values it may have,
//! with what they imply, their intersection and containment.

use std::collections::BTreeMap;

use super::ranges::{Ints, Ips};
use super::sets::{SetAtom, SetCons};
use super::strings::{StrAtom, StrCons};

/// Facts by attribute.
pub(super) type Facts = BTreeMap<Key, Fact>;

/// Intersects `fact` into `facts`, with what it implies.
pub(super) fn add_fact(facts: &mut Facts, key: &Key, fact: &Fact) {
    let merged = match facts.get(key) {
        Some(known) => known.intersect(fact),
        None => fact.clone(),
    };
    facts.insert(key.clone(), merged);
    for (key, fact, _) in implied(key, fact) {
        add_fact(facts, &key, &fact);
    }
}

/// An attribute as the analysis sees it. Claims are typed by the comparison (a claim of
/// another JSON type is absent for it, section 4.3), so each type is its own attribute.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Key {
    pub(super) name: String,
    pub(super) kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Kind {
    /// A schema attribute of a fixed type.
    Schema,
    /// A claim compared as a string, integer, boolean or string set; or tested by `exists`.
    ClaimString,
    ClaimInt,
    ClaimBool,
    ClaimSet,
    ClaimExists,
}

fn schema_key(name: &str) -> Key {
    Key {
        name: name.into(),
        kind: Kind::Schema,
    }
}

/// The protocols in which `name` can be present (section 1.3), if not all.
fn protocols(name: &str) -> Option<&'static [&'static str]> {
    if name.starts_with("kube.") {
        Some(&["kube"])
    } else if name.starts_with("ssh.") {
        Some(&["ssh"])
    } else if matches!(
        name,
        "request.method" | "request.host" | "request.path" | "request.route"
    ) || name.starts_with("request.query.")
        || name.starts_with("request.header.")
    {
        Some(&["http", "kube"])
    } else {
        None
    }
}

/// What a fact that requires `key` to be present implies (section 1.3, 4.2): the
/// protocols in which the attribute exists, and that there is an identity; each with a
/// note for messages.
pub(super) fn implied(key: &Key, fact: &Fact) -> Vec<(Key, Fact, &'static str)> {
    let mut out = Vec::new();
    if fact.absent {
        return out;
    }
    if let Some(protocols) = protocols(&key.name) {
        let note = match protocols {
            ["kube"] => "only in kube requests",
            ["ssh"] => "only in ssh requests",
            _ => "never in ssh requests",
        };
        let values = protocols.iter().map(|p| (*p).to_owned()).collect();
        let fact = Fact::present(Values::Strs(vec![StrAtom::In(values)]));
        out.push((schema_key("request.protocol"), fact, note));
    }
    if key.name.starts_with("identity.") && key.name != "identity.authenticated" {
        let fact = Fact::present(Values::Ints(Ints::bool(true)));
        out.push((
            schema_key("identity.authenticated"),
            fact,
            "only with an identity",
        ));
    }
    out
}

/// What a comparison needs of its attribute: whether it may be absent, and which present
/// values it accepts (`None`: none).
#[derive(Clone, Debug)]
pub(super) struct Fact {
    pub(super) absent: bool,
    pub(super) present: Option<Values>,
}

impl Fact {
    pub(super) fn present(values: Values) -> Self {
        Self {
            absent: false,
            present: Some(values),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        !self.absent && self.present.as_ref().is_none_or(Values::is_empty)
    }

    pub(super) fn intersect(&self, other: &Fact) -> Fact {
        let present = match (&self.present, &other.present) {
            (Some(mine), Some(theirs)) => Some(mine.intersect(theirs)),
            _ => None,
        };
        Fact {
            absent: self.absent && other.absent,
            present,
        }
    }

    /// Whether `self` accepts only what `other` accepts (`false` when unsure).
    pub(super) fn is_subset(&self, other: &Fact) -> bool {
        (!self.absent || other.absent)
            && match (&self.present, &other.present) {
                (None, _) => true,
                (Some(mine), None) => mine.is_empty(),
                (Some(mine), Some(theirs)) => mine.is_subset(theirs),
            }
    }

    /// The fact of the negated comparison, if it can be expressed.
    pub(super) fn negate(&self) -> Option<Fact> {
        let present = match &self.present {
            None => Some(Values::Any),
            Some(Values::Any) => None,
            Some(values) => Some(values.complement()?),
        };
        Some(Fact {
            absent: !self.absent,
            present,
        })
    }
}

/// A set of present values.
#[derive(Clone, Debug)]
pub(super) enum Values {
    /// Every value.
    Any,
    Ints(Ints),
    Ips(Ips),
    /// The strings satisfying every atom.
    Strs(Vec<StrAtom>),
    /// The string sets satisfying every atom.
    Sets(Vec<SetAtom>),
}

impl Values {
    fn is_empty(&self) -> bool {
        match self {
            Values::Any => false,
            Values::Ints(ints) => ints.set.is_empty(),
            Values::Ips(ips) => ips.v4.is_empty() && ips.v6.is_empty(),
            Values::Strs(atoms) => StrCons::new(atoms).is_empty(),
            Values::Sets(atoms) => SetCons::new(atoms).is_empty(),
        }
    }

    /// The intersection; if the kinds differ (never for one attribute), `self`, which
    /// contains it.
    fn intersect(&self, other: &Values) -> Values {
        match (self, other) {
            (Values::Any, other) => other.clone(),
            (Values::Ints(a), Values::Ints(b)) => Values::Ints(Ints {
                lo: a.lo.max(b.lo),
                hi: a.hi.min(b.hi),
                set: a.set.intersect(&b.set),
            }),
            (Values::Ips(a), Values::Ips(b)) => Values::Ips(Ips {
                v4: a.v4.intersect(&b.v4),
                v6: a.v6.intersect(&b.v6),
            }),
            (Values::Strs(a), Values::Strs(b)) => {
                Values::Strs(a.iter().chain(b).cloned().collect())
            }
            (Values::Sets(a), Values::Sets(b)) => {
                Values::Sets(a.iter().chain(b).cloned().collect())
            }
            (mine, _) => mine.clone(),
        }
    }

    /// Whether every value of `self` is in `other` (`false` when unsure).
    fn is_subset(&self, other: &Values) -> bool {
        match (self, other) {
            (_, Values::Any) => true,
            (Values::Ints(a), Values::Ints(b)) => a.set.is_subset(&b.set),
            (Values::Ips(a), Values::Ips(b)) => a.v4.is_subset(&b.v4) && a.v6.is_subset(&b.v6),
            (Values::Strs(a), Values::Strs(b)) => {
                let cons = StrCons::new(a);
                cons.is_empty() || b.iter().all(|atom| cons.within(atom))
            }
            (Values::Sets(a), Values::Sets(b)) => {
                let cons = SetCons::new(a);
                cons.is_empty() || b.iter().all(|atom| cons.within(atom))
            }
            (mine, _) => mine.is_empty(),
        }
    }

    /// The complement of a single comparison's values.
    fn complement(&self) -> Option<Values> {
        Some(match self {
            Values::Any => return None,
            Values::Ints(ints) => Values::Ints(Ints {
                set: ints.set.complement(ints.lo, ints.hi),
                ..ints.clone()
            }),
            Values::Ips(ips) => Values::Ips(ips.complement()),
            Values::Strs(atoms) => match atoms.as_slice() {
                [atom] => Values::Strs(vec![atom.negate()]),
                _ => return None,
            },
            Values::Sets(atoms) => match atoms.as_slice() {
                [atom] => Values::Sets(vec![atom.negate()]),
                _ => return None,
            },
        })
    }
}

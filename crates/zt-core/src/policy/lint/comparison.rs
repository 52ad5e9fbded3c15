//! The fact of one comparison, test or `exists`: the values for which it holds.

use std::collections::BTreeSet;
use std::net::IpAddr;

use jiff::Timestamp;

use super::facts::{Fact, Key, Kind, Values};
use super::ranges::{Ints, Ips, Ranges};
use super::sets::SetAtom;
use super::strings::{Pattern, StrAtom};
use crate::policy::ast::{Comparison, Condition, Literal, Operator, Value};
use crate::policy::literal;
use crate::policy::schema::{AttrType, resolve};

/// Attributes that are never absent.
fn never_absent(name: &str) -> bool {
    matches!(name, "identity.authenticated" | "request.protocol") || name.starts_with("time.")
}

/// The fact of a comparison, test or `exists`, negated or not.
pub(super) fn leaf_fact(condition: &Condition, negated: bool) -> Option<(Key, Fact)> {
    let (key, positive, ty) = match condition {
        Condition::Test(attr) => {
            let ty = resolve(attr).ok().filter(|ty| *ty == AttrType::Bool)?;
            let key = Key {
                name: attr.dotted(),
                kind: Kind::Schema,
            };
            (key, Fact::present(Values::Ints(Ints::bool(true))), ty)
        }
        Condition::Exists(attr) => {
            let ty = resolve(attr).ok()?;
            let kind = if ty == AttrType::Dynamic {
                Kind::ClaimExists
            } else {
                Kind::Schema
            };
            let key = Key {
                name: attr.dotted(),
                kind,
            };
            (key, Fact::present(Values::Any), ty)
        }
        Condition::Cmp(comparison) => fact_of(comparison)?,
        _ => return None,
    };
    let mut fact = if negated {
        positive.negate()?
    } else {
        positive
    };
    if never_absent(&key.name) {
        fact.absent = false;
    }
    if let (AttrType::Enum(domain), Some(Values::Strs(atoms))) = (ty, &mut fact.present) {
        atoms.push(StrAtom::In(
            domain.iter().map(|v| (*v).to_owned()).collect(),
        ));
    }
    Some((key, fact))
}

/// The fact of a comparison that holds, and the type it compares as.
fn fact_of(comparison: &Comparison) -> Option<(Key, Fact, AttrType)> {
    let declared = resolve(&comparison.attr).ok()?;
    let (kind, ty) = if declared == AttrType::Dynamic {
        claim_type(comparison)?
    } else {
        (Kind::Schema, declared)
    };
    let values = values(comparison, ty)?;
    let key = Key {
        name: comparison.attr.dotted(),
        kind,
    };
    Some((key, Fact::present(values), ty))
}

/// How a comparison reads a claim (section 4.3).
fn claim_type(comparison: &Comparison) -> Option<(Kind, AttrType)> {
    match comparison.op {
        Operator::Has | Operator::HasAny | Operator::HasAll => {
            Some((Kind::ClaimSet, AttrType::StringSet))
        }
        Operator::StartsWith
        | Operator::EndsWith
        | Operator::Contains
        | Operator::Matches
        | Operator::Regex => Some((Kind::ClaimString, AttrType::String)),
        _ => literal_type(&comparison.value.value),
    }
}

fn literal_type(value: &Value) -> Option<(Kind, AttrType)> {
    match value {
        Value::String(_) => Some((Kind::ClaimString, AttrType::String)),
        Value::Int(_) => Some((Kind::ClaimInt, AttrType::Int(i64::MIN, i64::MAX))),
        Value::Bool(_) => Some((Kind::ClaimBool, AttrType::Bool)),
        Value::List(items) => literal_type(&items.first()?.value),
        Value::Range(bounds) => literal_type(&bounds[0].value),
        Value::Duration(_) | Value::Weekday(_) | Value::Regex(_) => None,
    }
}

/// The values for which `comparison` holds, its attribute read as `ty`.
fn values(comparison: &Comparison, ty: AttrType) -> Option<Values> {
    match ty {
        AttrType::Ip => ips(comparison).map(Values::Ips),
        AttrType::StringSet => set_atom(comparison).map(|atom| Values::Sets(vec![atom])),
        AttrType::String | AttrType::Host | AttrType::Path | AttrType::Enum(_) => {
            str_atom(comparison).map(|atom| Values::Strs(vec![atom]))
        }
        AttrType::Bool
        | AttrType::Int(..)
        | AttrType::Weekday
        | AttrType::Date
        | AttrType::Instant
        | AttrType::Duration => ints(comparison, ty).map(Values::Ints),
        AttrType::Dynamic => None,
    }
}

fn str_atom(comparison: &Comparison) -> Option<StrAtom> {
    let pattern = |text: &str| {
        StrAtom::Other(
            Pattern {
                op: comparison.op,
                text: text.to_owned(),
            },
            true,
        )
    };
    Some(match (comparison.op, &comparison.value.value) {
        (Operator::Eq, Value::String(text)) => StrAtom::In(BTreeSet::from([text.clone()])),
        (Operator::Ne, Value::String(text)) => StrAtom::NotIn(BTreeSet::from([text.clone()])),
        (Operator::In, Value::List(items)) => StrAtom::In(strings(items)?),
        (Operator::NotIn, Value::List(items)) => StrAtom::NotIn(strings(items)?),
        (Operator::StartsWith, Value::String(text)) => StrAtom::Prefix(text.clone(), true),
        (Operator::Matches, Value::String(text)) => match glob_literal(text) {
            Some(exact) => StrAtom::In(BTreeSet::from([exact])),
            None => pattern(text),
        },
        (Operator::EndsWith | Operator::Contains, Value::String(text))
        | (Operator::Regex, Value::Regex(text)) => pattern(text),
        _ => return None,
    })
}

fn strings(items: &[Literal]) -> Option<BTreeSet<String>> {
    items
        .iter()
        .map(|item| match &item.value {
            Value::String(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// The one string a glob without wildcards matches.
fn glob_literal(glob: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = glob.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' => return None,
            '\\' => out.push(chars.next()?),
            c => out.push(c),
        }
    }
    Some(out)
}

fn set_atom(comparison: &Comparison) -> Option<SetAtom> {
    Some(match (comparison.op, &comparison.value.value) {
        (Operator::Has, Value::String(text)) => SetAtom::All(BTreeSet::from([text.clone()])),
        (Operator::HasAny, Value::List(items)) => SetAtom::Any(strings(items)?),
        (Operator::HasAll, Value::List(items)) => SetAtom::All(strings(items)?),
        _ => return None,
    })
}

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// The values of an integer-like type, as integers: bools 0/1, weekdays 0 (Monday) to
/// 6, dates as `yyyymmdd` (only order matters), instants and durations in nanoseconds.
/// Any superset of the real values will do.
fn int_domain(ty: AttrType) -> Option<(i128, i128)> {
    Some(match ty {
        AttrType::Int(min, max) => (i128::from(min), i128::from(max)),
        AttrType::Bool => (0, 1),
        AttrType::Weekday => (0, 6),
        AttrType::Date => (-99_999_999, 99_999_999),
        AttrType::Instant => (
            Timestamp::MIN.as_nanosecond(),
            Timestamp::MAX.as_nanosecond(),
        ),
        AttrType::Duration => (0, i128::MAX),
        _ => return None,
    })
}

fn int_point(ty: AttrType, value: &Value) -> Option<i128> {
    match (ty, value) {
        (AttrType::Int(..), Value::Int(n)) => Some(i128::from(*n)),
        (AttrType::Bool, Value::Bool(b)) => Some(i128::from(*b)),
        (AttrType::Weekday, Value::Weekday(name)) => literal::weekday(name)
            .ok()
            .and_then(|i| i128::try_from(i).ok()),
        (AttrType::Date, Value::String(text)) => literal::date(text).ok().map(|date| {
            i128::from(date.year()) * 10_000
                + i128::from(date.month()) * 100
                + i128::from(date.day())
        }),
        (AttrType::Instant, Value::String(text)) => {
            literal::instant(text).ok().map(|at| at.as_nanosecond())
        }
        (AttrType::Duration, Value::Duration(seconds)) => {
            Some(i128::from(*seconds) * NANOS_PER_SECOND)
        }
        _ => None,
    }
}

/// Hours, minutes and weekdays wrap in ranges (`22..5`, `fri..mon`).
fn is_cyclic(comparison: &Comparison, ty: AttrType) -> bool {
    ty == AttrType::Weekday
        || matches!(
            comparison.attr.dotted().as_str(),
            "time.hour" | "time.minute"
        )
}

fn ints(comparison: &Comparison, ty: AttrType) -> Option<Ints> {
    let (lo, hi) = int_domain(ty)?;
    let point = |value: &Value| int_point(ty, value);
    let ranges = match (comparison.op, &comparison.value.value) {
        (Operator::Eq | Operator::Ne, value) => {
            let p = point(value)?;
            vec![(p, p)]
        }
        (Operator::Lt, value) => vec![(lo, point(value)?.saturating_sub(1))],
        (Operator::Le, value) => vec![(lo, point(value)?)],
        (Operator::Gt, value) => vec![(point(value)?.saturating_add(1), hi)],
        (Operator::Ge, value) => vec![(point(value)?, hi)],
        (Operator::In | Operator::NotIn, Value::List(items)) => items
            .iter()
            .map(|item| point(&item.value).map(|p| (p, p)))
            .collect::<Option<_>>()?,
        (Operator::In | Operator::NotIn, Value::Range(bounds)) => {
            let (start, end) = (point(&bounds[0].value)?, point(&bounds[1].value)?);
            match (start <= end, is_cyclic(comparison, ty)) {
                (true, _) => vec![(start, end)],
                (false, true) => vec![(start, hi), (lo, end)],
                (false, false) => return None,
            }
        }
        _ => return None,
    };
    let set = Ranges::new(ranges).intersect(&Ranges::new(vec![(lo, hi)]));
    let set = if matches!(comparison.op, Operator::Ne | Operator::NotIn) {
        set.complement(lo, hi)
    } else {
        set
    };
    Some(Ints { lo, hi, set })
}

fn ips(comparison: &Comparison) -> Option<Ips> {
    let network = |value: &Value| match value {
        Value::String(text) => literal::network(text).ok(),
        _ => None,
    };
    let networks: Vec<(IpAddr, u8)> = match (comparison.op, &comparison.value.value) {
        (Operator::Eq | Operator::Ne | Operator::In | Operator::NotIn, Value::String(_)) => {
            vec![network(&comparison.value.value)?]
        }
        (Operator::In | Operator::NotIn, Value::List(items)) => items
            .iter()
            .map(|item| network(&item.value))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    let set = Ips::of(&networks);
    Some(if matches!(comparison.op, Operator::Ne | Operator::NotIn) {
        set.complement()
    } else {
        set
    })
}

//! The lints of docs/policy.md section 12.1: warnings for a policy that checked clean.
//!
//! Every lint except the method-case heuristic is sound: it warns only about problems that
//! are certain, and stays silent when unsure. Conditions are normalised first (`not`
//! pushed down to the comparisons), and every comparison becomes a *fact*: the values its
//! attribute may have, and whether it may be absent, for the comparison to hold (section 6).
//! Facts on one attribute in a conjunction are intersected; one condition implies another
//! when, conjunct by conjunct, its facts are contained in the other's. The value sets are
//! exact for integers, weekdays, hours (wrapping ranges included), dates, instants,
//! durations and IP networks; strings are compared by lists, prefixes and a few patterns,
//! string sets by required and forbidden members. Anything else is opaque and only equal
//! to itself.

use jiff::Timestamp;

use self::contradiction::{Contradiction, contradiction, never_matches};
use self::facts::Values;
use self::normalize::{Leaf, Node, facts_of, normalise};
use self::ranges::Ranges;
use self::shadow::{Window, shadowing, window};
use super::Diagnostic;
use super::ast::{Comparison, Condition, Effect, Operator, Policy, Rule, Value};
use super::diagnostic::push_limited;
use super::lexer::quote;
use super::literal;
use super::pretty::condition_text;
use super::schema::{AttrType, resolve};

mod comparison;
mod contradiction;
mod facts;
mod index;
mod normalize;
mod prover;
mod ranges;
mod sets;
mod shadow;
mod strings;
#[cfg(test)]
mod tests;

/// A rule can never allow, or is redundant.
const SHADOWED: &str = "shadowed-rule";
/// A condition no request satisfies.
const NEVER: &str = "never-matches";
/// An allow rule that does not require an identity.
const WITHOUT_IDENTITY: &str = "allow-without-identity";
/// A rule past its `until`.
const EXPIRED: &str = "expired";
/// A deny rule's `!=` / `not-in` on an attribute that may be absent.
const SKIPS_ABSENT: &str = "deny-skips-absent";
/// `ends_with` on a host without a leading dot.
const HOST_SUFFIX: &str = "host-suffix";

/// The lint warnings of docs/policy.md section 12.1 for a policy that checked clean.
///
/// `now` is the instant for `expired`. Warnings silenced by a `# zt-lint: allow CODE`
/// comment of their rule are left out; the rest come in source order (by position, then
/// rule, then code), at most [`MAX_DIAGNOSTICS`](super::MAX_DIAGNOSTICS) and a note.
pub fn lint(policy: &Policy, now: Timestamp) -> Vec<Diagnostic> {
    let rules: Vec<Analysed<'_>> = policy.rules.iter().map(Analysed::new).collect();
    let mut found: Vec<(usize, Diagnostic)> = Vec::new();
    for (index, analysed) in rules.iter().enumerate() {
        for diagnostic in rule_lints(analysed, now) {
            found.push((index, diagnostic));
        }
    }
    shadowing(&rules, &mut found);
    found.retain(|(index, diagnostic)| !suppressed(&policy.rules[*index], diagnostic.code));
    // The rule index only matters for the JSON form, whose spans are all empty.
    found.sort_by(|(i, a), (j, b)| (a.span.start, i, a.code).cmp(&(b.span.start, j, b.code)));
    let mut out = Vec::new();
    for (_, diagnostic) in found {
        push_limited(&mut out, diagnostic);
    }
    out
}

/// The lints that look at one rule alone.
fn rule_lints(analysed: &Analysed<'_>, now: Timestamp) -> Vec<Diagnostic> {
    let rule = analysed.rule;
    let mut out = Vec::new();
    out.extend(expired(rule, now));
    if let Some(contradiction) = &analysed.never {
        out.push(never_matches(rule, contradiction));
    }
    let comparisons = comparisons(&rule.when);
    out.extend(comparisons.iter().flat_map(|c| method_case(rule, c)));
    out.extend(comparisons.iter().filter_map(|c| host_suffix(c)));
    if rule.effect == Effect::Allow
        && analysed.never.is_none()
        && !requires_identity(&analysed.when)
    {
        out.push(without_identity(rule));
    }
    if rule.effect == Effect::Deny {
        out.extend(skips_absent(rule));
    }
    out
}

/// A rule, its normalised condition, why it never matches and its window.
struct Analysed<'a> {
    rule: &'a Rule,
    when: Node<'a>,
    never: Option<Contradiction>,
    /// `from` and `until`; `None` if either does not parse (not after a clean check).
    window: Option<Window>,
}

impl<'a> Analysed<'a> {
    fn new(rule: &'a Rule) -> Self {
        let when = normalise(&rule.when, false);
        let never = if rule.when == Condition::Const(false) {
            Some(Contradiction {
                span: None,
                text: "its condition is `false`".into(),
            })
        } else {
            contradiction(&when)
        };
        Self {
            rule,
            when,
            never,
            window: window(rule),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Suppression comments.

/// Whether a `zt-lint: allow CODE[, CODE]` comment of `rule` silences `code`.
fn suppressed(rule: &Rule, code: &str) -> bool {
    rule.comments
        .iter()
        .filter_map(|comment| allowed_codes(comment))
        .flatten()
        .any(|allowed| allowed == code)
}

/// The codes a `zt-lint: allow ...` comment names (comment text without the `#`).
fn allowed_codes(comment: &str) -> Option<impl Iterator<Item = &str>> {
    let rest = comment
        .trim()
        .trim_start_matches('#')
        .trim_start()
        .strip_prefix("zt-lint:")?
        .trim_start()
        .strip_prefix("allow")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some(rest.split(',').map(str::trim))
}

// ---------------------------------------------------------------------------------------
// expired, host-suffix, the method heuristic, allow-without-identity, deny-skips-absent.

/// `until` at or before `now`.
fn expired(rule: &Rule, now: Timestamp) -> Option<Diagnostic> {
    let until = rule.until.as_deref()?;
    let at = literal::instant(until).ok()?;
    (at <= now).then(|| {
        Diagnostic::warning(
            EXPIRED,
            rule.clause_spans[1],
            format!("rule {} expired at {until}", quote(&rule.id)),
        )
        .with_hint("remove the rule")
    })
}

/// Every comparison in `condition`, in source order.
fn comparisons(condition: &Condition) -> Vec<&Comparison> {
    let mut out = Vec::new();
    let mut stack = vec![condition];
    while let Some(condition) = stack.pop() {
        match condition {
            Condition::And(operands) | Condition::Or(operands) => {
                stack.extend(operands.iter().rev());
            }
            Condition::Not(operand) => stack.push(operand),
            Condition::Cmp(comparison) => out.push(comparison),
            Condition::Const(_) | Condition::Test(_) | Condition::Exists(_) => {}
        }
    }
    out
}

/// *Heuristic*: `request.method` literals with lower-case letters.
fn method_case(rule: &Rule, comparison: &Comparison) -> Vec<Diagnostic> {
    if comparison.attr.dotted() != "request.method"
        || !matches!(
            comparison.op,
            Operator::Eq | Operator::Ne | Operator::In | Operator::NotIn
        )
    {
        return Vec::new();
    }
    let literals = match &comparison.value.value {
        Value::List(items) => items.iter().collect(),
        _ => vec![&comparison.value],
    };
    literals
        .into_iter()
        .filter_map(|literal| match &literal.value {
            Value::String(method) if method.chars().any(char::is_lowercase) => Some(
                Diagnostic::warning(
                    NEVER,
                    literal.span,
                    format!(
                        "rule {}: the HTTP method {} has lower-case letters and never matches a standard method (methods are case-sensitive)",
                        quote(&rule.id),
                        quote(method)
                    ),
                )
                .with_hint(format!("write {}", quote(&method.to_uppercase()))),
            ),
            _ => None,
        })
        .collect()
}

/// `ends_with` on a host attribute with a literal that does not start with `.`.
fn host_suffix(comparison: &Comparison) -> Option<Diagnostic> {
    let Value::String(suffix) = &comparison.value.value else {
        return None;
    };
    if comparison.op != Operator::EndsWith
        || suffix.is_empty()
        || suffix.starts_with('.')
        || !matches!(resolve(&comparison.attr), Ok(AttrType::Host))
    {
        return None;
    }
    let attr = comparison.attr.dotted();
    let dotted = format!(".{suffix}");
    Some(
        Diagnostic::warning(
            HOST_SUFFIX,
            comparison.value.span,
            format!(
                "`{}` also matches {}",
                condition_text(&Condition::Cmp(comparison.clone())),
                quote(&format!("evil{suffix}"))
            ),
        )
        .with_hint(format!(
            "write `{attr} ends_with {}` or `{attr} matches {}` (and `{attr} == {}` for the name itself)",
            quote(&dotted),
            quote(&format!("**{dotted}")),
            quote(suffix)
        )),
    )
}

/// An allow rule whose condition can hold without an identity.
fn without_identity(rule: &Rule) -> Diagnostic {
    Diagnostic::warning(
        WITHOUT_IDENTITY,
        rule.id_span,
        format!(
            "allow rule {} can match requests without a verified identity: no condition on `identity.*` is required",
            quote(&rule.id)
        ),
    )
    .with_hint(
        "add a condition such as `identity.groups has \"...\"`, or `# zt-lint: allow allow-without-identity` if anonymous access is intended",
    )
}

/// Whether every way `node` can hold needs a positive condition on `identity.*`.
fn requires_identity(node: &Node<'_>) -> bool {
    match node {
        Node::Const(value) => !value,
        Node::Leaf(leaf) => identity_leaf(leaf),
        Node::And(operands, _) => operands.iter().any(requires_identity),
        Node::Or(operands) => operands.iter().all(requires_identity),
        Node::Opaque(..) => false,
    }
}

/// A comparison that holds only for requests with a verified identity.
fn identity_leaf(leaf: &Leaf<'_>) -> bool {
    if leaf.key.name == "identity.authenticated" {
        // Only `identity.authenticated` (== true), never `== false` or `exists`.
        return match &leaf.fact.present {
            Some(Values::Ints(ints)) => ints.set.is_subset(&Ranges::new(vec![(1, 1)])),
            _ => false,
        };
    }
    leaf.key.name.starts_with("identity.") && !leaf.fact.absent
}

/// A deny rule's top-level `!=` / `not-in` on an attribute that can be absent for reasons
/// other than the protocol.
fn skips_absent(rule: &Rule) -> Vec<Diagnostic> {
    let conjuncts = match &rule.when {
        Condition::And(operands) => operands.as_slice(),
        other => std::slice::from_ref(other),
    };
    let mut out = Vec::new();
    for (index, conjunct) in conjuncts.iter().enumerate() {
        let Condition::Cmp(comparison) = conjunct else {
            continue;
        };
        let name = comparison.attr.dotted();
        if !matches!(comparison.op, Operator::Ne | Operator::NotIn)
            || !may_be_absent(&name)
            || presence_required_elsewhere(conjuncts, index)
        {
            continue;
        }
        out.push(skips_absent_warning(rule, comparison, &name));
    }
    out
}

/// Whether a conjunct other than `conjuncts[index]` already requires the attribute that
/// `conjuncts[index]` compares to be present (as `x exists and x != v` does).
fn presence_required_elsewhere(conjuncts: &[Condition], index: usize) -> bool {
    let Some(Node::Leaf(own)) = conjuncts.get(index).map(|c| normalise(c, false)) else {
        return false;
    };
    conjuncts.iter().enumerate().any(|(other, conjunct)| {
        other != index
            && facts_of(&normalise(conjunct, false))
                .get(&own.key)
                .is_some_and(|fact| !fact.absent)
    })
}

fn skips_absent_warning(rule: &Rule, comparison: &Comparison, name: &str) -> Diagnostic {
    let positive = Comparison {
        op: if comparison.op == Operator::Ne {
            Operator::Eq
        } else {
            Operator::In
        },
        ..comparison.clone()
    };
    let fix = condition_text(&Condition::Not(Box::new(Condition::Cmp(positive))));
    Diagnostic::warning(
        SKIPS_ABSENT,
        comparison.attr.span.to(comparison.value.span),
        format!(
            "`{}` is false when `{name}` is absent, so deny rule {} lets requests without it through",
            condition_text(&Condition::Cmp(comparison.clone())),
            quote(&rule.id)
        ),
    )
    .with_hint(format!(
        "to deny requests without `{name}` too, write `{fix}`"
    ))
}

/// Attributes that can be absent whatever the protocol (section 4.2, "absent when").
fn may_be_absent(name: &str) -> bool {
    match name {
        "identity.authenticated"
        | "request.protocol"
        | "request.method"
        | "request.path"
        | "kube.verb"
        | "kube.is_resource_request"
        | "ssh.login"
        | "ssh.host"
        | "ssh.port" => false,
        _ => ["identity.", "request.", "kube.", "ssh."]
            .iter()
            .any(|prefix| name.starts_with(prefix)),
    }
}

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

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use jiff::Timestamp;

use super::ast::{Comparison, Condition, Effect, Operator, Policy, Rule, Value};
use super::diagnostic::push_limited;
use super::lexer::quote;
use super::literal;
use super::pretty::condition_text;
use super::schema::{AttrType, resolve};
use super::{Diagnostic, Span};

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

/// Implication steps spent on one pair of rules before giving up on it.
const PAIR_STEPS: usize = 4_096;
/// Implication steps spent on the whole policy before the shadowing analysis gives up.
const TOTAL_STEPS: usize = 1_000_000;

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

// ---------------------------------------------------------------------------------------
// never-matches.

/// Why a condition never holds: where, and what contradicts what.
#[derive(Clone, Debug)]
struct Contradiction {
    span: Option<Span>,
    text: String,
}

fn never_matches(rule: &Rule, contradiction: &Contradiction) -> Diagnostic {
    Diagnostic::warning(
        NEVER,
        contradiction.span.unwrap_or(rule.id_span),
        format!(
            "rule {} never matches: {}",
            quote(&rule.id),
            contradiction.text
        ),
    )
    .with_hint("remove the rule or correct its condition")
}

/// Why `node` can never hold, if that is certain.
fn contradiction(node: &Node<'_>) -> Option<Contradiction> {
    match node {
        Node::Const(false) => Some(Contradiction {
            span: None,
            text: "a conjunct is `false`".into(),
        }),
        Node::Leaf(leaf) if leaf.fact.is_empty() => Some(Contradiction {
            span: Some(leaf.span()),
            text: format!("`{}` is never true", leaf.text()),
        }),
        Node::And(operands, facts) => operands.iter().find_map(contradiction).or_else(|| {
            facts
                .values()
                .any(Fact::is_empty)
                .then(|| conflict(operands))
                .flatten()
        }),
        Node::Or(operands) => {
            let mut first = None;
            for operand in operands {
                let found = contradiction(operand)?;
                first.get_or_insert(found);
            }
            first.map(|found| Contradiction {
                span: found.span,
                text: format!("no operand of an `or` can be true ({})", found.text),
            })
        }
        Node::Const(true) | Node::Leaf(_) | Node::Opaque(..) => None,
    }
}

/// A fact of a conjunction, remembered for explaining a conflict: a comparison, or what
/// a comparison implies (with why).
struct Item<'n, 'a> {
    key: Key,
    fact: Fact,
    leaf: &'n Leaf<'a>,
    note: Option<&'static str>,
}

impl Item<'_, '_> {
    fn describe(&self) -> String {
        let text = format!("`{}`", self.leaf.text());
        match self.note {
            Some(note) => format!("{text} ({note})"),
            None => text,
        }
    }
}

/// The first comparison of a conjunction that conflicts with the ones before it.
fn conflict(operands: &[Node<'_>]) -> Option<Contradiction> {
    let mut seen: Vec<Item<'_, '_>> = Vec::new();
    let mut merged = Facts::new();
    for leaf in operands.iter().filter_map(Node::as_leaf) {
        let own = Item {
            key: leaf.key.clone(),
            fact: leaf.fact.clone(),
            leaf,
            note: None,
        };
        let implied = implied(&leaf.key, &leaf.fact)
            .into_iter()
            .map(|(key, fact, note)| Item {
                key,
                fact,
                leaf,
                note: Some(note),
            });
        for item in std::iter::once(own).chain(implied) {
            let fact = merged
                .get(&item.key)
                .map_or_else(|| item.fact.clone(), |fact| fact.intersect(&item.fact));
            if fact.is_empty() {
                return Some(explain(&item, &seen));
            }
            merged.insert(item.key.clone(), fact);
            seen.push(item);
        }
    }
    None
}

fn explain(item: &Item<'_, '_>, seen: &[Item<'_, '_>]) -> Contradiction {
    let partner = seen
        .iter()
        .filter(|other| other.key == item.key)
        .find(|other| other.fact.intersect(&item.fact).is_empty());
    let text = match partner {
        Some(partner) => format!("{} contradicts {}", item.describe(), partner.describe()),
        None => format!(
            "{} contradicts the other conditions on `{}`",
            item.describe(),
            item.key.name
        ),
    };
    Contradiction {
        span: Some(item.leaf.span()),
        text,
    }
}

// ---------------------------------------------------------------------------------------
// shadowed-rule.

/// `from` and `until`, as instants (`None`: unbounded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    from: Option<Timestamp>,
    until: Option<Timestamp>,
}

impl Window {
    /// Whether `self` is active whenever `other` is.
    fn encloses(&self, other: &Window) -> bool {
        let from = match (self.from, other.from) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(mine), Some(theirs)) => mine <= theirs,
        };
        let until = match (self.until, other.until) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(mine), Some(theirs)) => mine >= theirs,
        };
        from && until
    }
}

fn window(rule: &Rule) -> Option<Window> {
    let parse = |text: &Option<String>| match text {
        None => Some(None),
        Some(text) => literal::instant(text).ok().map(Some),
    };
    Some(Window {
        from: parse(&rule.from)?,
        until: parse(&rule.until)?,
    })
}

/// How a rule is shadowed: by a deny rule (it never allows) or by a rule of its own
/// effect (it is redundant).
#[derive(Clone, Copy, Debug)]
struct Shadow {
    by: usize,
    deny: bool,
}

/// Finds shadowed and redundant rules (`shadowed-rule`).
fn shadowing(rules: &[Analysed<'_>], found: &mut Vec<(usize, Diagnostic)>) {
    let live: Vec<usize> = (0..rules.len())
        .filter(|&i| rules[i].never.is_none() && rules[i].window.is_some())
        .collect();
    let index = Index::new(rules, &live);
    let mut budget = TOTAL_STEPS;
    let mut verdicts: BTreeMap<usize, Shadow> = BTreeMap::new();
    // Deny rules first: an allow that never allows matters most, if the budget runs out.
    let (denies, allows): (Vec<usize>, Vec<usize>) = live
        .iter()
        .partition(|&&i| rules[i].rule.effect == Effect::Deny);
    'broader: for &broad in denies.iter().chain(&allows) {
        for &narrow in index.candidates(&rules[broad].when, &live) {
            // Every candidate costs a step, so that skipping candidates is bounded too.
            let Some(rest) = budget.checked_sub(1) else {
                break 'broader;
            };
            budget = rest;
            let Some(deny) = relation(rules, narrow, broad) else {
                continue;
            };
            let known = verdicts.get(&narrow);
            if known.is_some_and(|shadow| shadow.deny || !deny) {
                continue;
            }
            let (shadows, spent) = shadows(rules, narrow, broad);
            budget = budget.saturating_sub(spent);
            if shadows {
                verdicts.insert(narrow, Shadow { by: broad, deny });
            }
        }
    }
    for (narrow, shadow) in verdicts {
        found.push((narrow, shadowed_warning(rules, narrow, shadow)));
    }
}

/// Whether `broad` can shadow `narrow`: `Some(true)` a deny over an allow, `Some(false)`
/// two rules of one effect, `None` otherwise.
fn relation(rules: &[Analysed<'_>], narrow: usize, broad: usize) -> Option<bool> {
    if narrow == broad {
        return None;
    }
    match (rules[narrow].rule.effect, rules[broad].rule.effect) {
        (Effect::Allow, Effect::Deny) => Some(true),
        (mine, theirs) if mine == theirs => Some(false),
        _ => None,
    }
}

/// Whether `broad` is active whenever `narrow` is and matches whenever it does (of two
/// equivalent rules with equal windows, only the later one is shadowed), and the
/// implication steps spent.
fn shadows(rules: &[Analysed<'_>], narrow: usize, broad: usize) -> (bool, usize) {
    let (Some(narrow_window), Some(broad_window)) = (rules[narrow].window, rules[broad].window)
    else {
        return (false, 0);
    };
    if !broad_window.encloses(&narrow_window) {
        return (false, 0);
    }
    let mut prover = Prover { steps: PAIR_STEPS };
    let mut shadows = prover.implies(&rules[narrow].when, &rules[broad].when);
    let same_effect = rules[narrow].rule.effect == rules[broad].rule.effect;
    if shadows && same_effect && broad > narrow && broad_window == narrow_window {
        shadows = !prover.implies(&rules[broad].when, &rules[narrow].when);
    }
    (shadows, PAIR_STEPS - prover.steps)
}

fn shadowed_warning(rules: &[Analysed<'_>], narrow: usize, shadow: Shadow) -> Diagnostic {
    let rule = rules[narrow].rule;
    let other = rules[shadow.by].rule;
    if shadow.deny {
        Diagnostic::warning(
            SHADOWED,
            rule.id_span,
            format!(
                "allow rule {} never allows: deny rule {} is active whenever it is and matches every request it matches",
                quote(&rule.id),
                quote(&other.id)
            ),
        )
        .with_hint(format!(
            "remove the rule, or narrow deny rule {}",
            quote(&other.id)
        ))
    } else {
        let effect = match other.effect {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        };
        Diagnostic::warning(
            SHADOWED,
            rule.id_span,
            format!(
                "rule {} is redundant: {effect} rule {} is active whenever it is and matches every request it matches",
                quote(&rule.id),
                quote(&other.id)
            ),
        )
        .with_hint(format!(
            "remove the rule; rule {} covers it",
            quote(&other.id)
        ))
    }
}

/// What a rule's condition says, for finding the rules that may imply another.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Token {
    /// The rule compares this attribute (anywhere in its condition).
    Attr(Key),
    /// The attribute is present and may be this string.
    Is(Key, String),
    /// The set attribute is present and has this member.
    Has(Key, String),
    /// The attribute is present and starts with this.
    Prefix(Key, String),
}

/// Rules by the tokens of their top-level facts.
struct Index {
    postings: HashMap<Token, Vec<usize>>,
}

impl Index {
    fn new(rules: &[Analysed<'_>], live: &[usize]) -> Self {
        let mut postings: HashMap<Token, Vec<usize>> = HashMap::new();
        for &rule in live {
            let when = &rules[rule].when;
            let mut own = tokens(&facts_of(when));
            mentioned(when, &mut own);
            let own: HashSet<Token> = own.into_iter().collect();
            for token in own {
                postings.entry(token).or_default().push(rule);
            }
        }
        Self { postings }
    }

    /// The rules that may imply `broad`: each holds the rarest of `broad`'s anchors (a
    /// rule whose top-level facts imply `broad`'s must hold all of them); every rule if
    /// `broad` has none.
    fn candidates<'s>(&'s self, broad: &Node<'_>, live: &'s [usize]) -> &'s [usize] {
        let mut anchors = anchors(&facts_of(broad));
        if let Node::And(operands, _) = broad {
            anchors.extend(operands.iter().filter_map(mention_anchor).map(Token::Attr));
        } else {
            anchors.extend(mention_anchor(broad).map(Token::Attr));
        }
        anchors
            .iter()
            .map(|anchor| self.postings.get(anchor).map_or(&[][..], Vec::as_slice))
            .min_by_key(|posting| posting.len())
            .unwrap_or(live)
    }
}

/// Lengths (in characters) at which string prefixes are indexed.
const PREFIX_LENGTHS: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];
/// Lists up to this long are indexed by their elements' prefixes too.
const PREFIXED_LIST: usize = 16;

/// The first `chars` characters of `text`, if it has that many.
fn cut(text: &str, chars: usize) -> Option<&str> {
    match text.char_indices().nth(chars) {
        Some((end, _)) => text.get(..end),
        None => (text.chars().count() == chars).then_some(text),
    }
}

/// A prefix token of `text` for every indexed length it has.
fn prefix_tokens<'t>(key: &'t Key, text: &'t str) -> impl Iterator<Item = Token> + 't {
    PREFIX_LENGTHS
        .iter()
        .filter_map(move |&length| cut(text, length))
        .map(move |prefix| Token::Prefix(key.clone(), prefix.to_owned()))
}

/// The tokens of a rule's top-level facts.
fn tokens(facts: &Facts) -> Vec<Token> {
    let mut out = Vec::new();
    for (key, fact) in facts {
        out.push(Token::Attr(key.clone()));
        if fact.absent {
            continue;
        }
        match &fact.present {
            Some(Values::Strs(atoms)) => {
                let cons = StrCons::new(atoms);
                if let Some(finite) = &cons.finite {
                    out.extend(
                        finite
                            .iter()
                            .map(|v| Token::Is(key.clone(), (*v).to_owned())),
                    );
                    if finite.len() <= PREFIXED_LIST {
                        out.extend(finite.iter().flat_map(|v| prefix_tokens(key, v)));
                    }
                }
                out.extend(cons.prefixes(true).flat_map(|p| prefix_tokens(key, p)));
            }
            Some(Values::Sets(atoms)) => {
                let cons = SetCons::new(atoms);
                out.extend(
                    cons.req
                        .iter()
                        .map(|v| Token::Has(key.clone(), (*v).to_owned())),
                );
            }
            _ => {}
        }
    }
    out
}

/// The attributes compared anywhere in a condition (a nested `or` may imply a fact too),
/// with the protocol for those that need one.
fn mentioned(node: &Node<'_>, out: &mut Vec<Token>) {
    match node {
        Node::Leaf(leaf) => {
            out.push(Token::Attr(leaf.key.clone()));
            out.extend(
                implied(&leaf.key, &leaf.fact)
                    .into_iter()
                    .map(|(key, _, _)| Token::Attr(key)),
            );
        }
        Node::And(operands, _) | Node::Or(operands) => {
            for operand in operands {
                mentioned(operand, out);
            }
        }
        Node::Const(_) | Node::Opaque(..) => {}
    }
}

/// An attribute that every condition implying `node` mentions: a comparison's, or one
/// shared by every operand of an `or`.
fn mention_anchor(node: &Node<'_>) -> Option<Key> {
    match node {
        Node::Leaf(leaf) => Some(leaf.key.clone()),
        Node::And(operands, _) => operands.iter().find_map(mention_anchor),
        Node::Or(operands) => {
            let mut keys = operands.iter().map(mention_anchor);
            let first = keys.next()??;
            keys.all(|key| key.as_ref() == Some(&first))
                .then_some(first)
        }
        Node::Const(_) | Node::Opaque(..) => None,
    }
}

/// Tokens every rule whose top-level facts imply `facts` holds.
fn anchors(facts: &Facts) -> Vec<Token> {
    let mut out = Vec::new();
    for (key, fact) in facts {
        out.push(Token::Attr(key.clone()));
        if fact.absent {
            continue;
        }
        match &fact.present {
            Some(Values::Strs(atoms)) => out.extend(string_anchors(key, atoms)),
            Some(Values::Sets(atoms)) => {
                for atom in atoms {
                    match atom {
                        SetAtom::All(members) => {
                            out.extend(members.iter().map(|v| Token::Has(key.clone(), v.clone())))
                        }
                        SetAtom::Any(members) if members.len() == 1 => {
                            out.extend(members.iter().map(|v| Token::Has(key.clone(), v.clone())))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A rule implying `== v` has the token of `v`; one implying `starts_with q` starts with
/// `q` itself (or is a short list of such strings), so it has the token of `q`'s longest
/// indexed cut.
fn string_anchors(key: &Key, atoms: &[StrAtom]) -> Vec<Token> {
    let cons = StrCons::new(atoms);
    let mut out = Vec::new();
    if let Some([only]) = cons.finite.as_deref() {
        out.push(Token::Is(key.clone(), (*only).to_owned()));
    }
    for prefix in cons.prefixes(true) {
        let length = prefix.chars().count();
        if let Some(&indexed) = PREFIX_LENGTHS.iter().rev().find(|&&l| l <= length)
            && let Some(cut) = cut(prefix, indexed)
        {
            out.push(Token::Prefix(key.clone(), cut.to_owned()));
        }
    }
    out
}

/// Sound implication between normalised conditions, within a step budget.
struct Prover {
    steps: usize,
}

impl Prover {
    /// Whether every request satisfying `a` satisfies `b` (`false` when unsure).
    fn implies(&mut self, a: &Node<'_>, b: &Node<'_>) -> bool {
        if self.steps == 0 {
            return false;
        }
        self.steps -= 1;
        match b {
            Node::Const(true) => return true,
            Node::And(operands, _) => return operands.iter().all(|b| self.implies(a, b)),
            _ => {}
        }
        match a {
            Node::Const(false) => return true,
            Node::Or(operands) if operands.iter().all(|a| self.implies(a, b)) => return true,
            _ => {}
        }
        if let Node::Or(operands) = b
            && operands.iter().any(|b| self.implies(a, b))
        {
            return true;
        }
        self.implies_atom(a, b)
    }

    /// `b` is a comparison, an opaque leaf or `false`.
    fn implies_atom(&mut self, a: &Node<'_>, b: &Node<'_>) -> bool {
        let direct = match b {
            Node::Leaf(leaf) => facts_of(a)
                .get(&leaf.key)
                .is_some_and(|fact| fact.is_subset(&leaf.fact)),
            Node::Opaque(condition, negated) => {
                matches!(a, Node::Opaque(other, other_negated) if condition == other && negated == other_negated)
            }
            _ => false,
        };
        direct
            || matches!(a, Node::And(operands, _) if operands
                .iter()
                .any(|a| !matches!(a, Node::Leaf(_)) && self.implies(a, b)))
    }
}

// ---------------------------------------------------------------------------------------
// Normalised conditions.

/// A condition with `not` pushed down to the comparisons.
#[derive(Clone, Debug)]
enum Node<'a> {
    Const(bool),
    Leaf(Leaf<'a>),
    /// The operands (no `And` among them) and their comparisons' facts, intersected per
    /// attribute, with the protocols they imply.
    And(Vec<Node<'a>>, Facts),
    /// The operands (no `Or` among them).
    Or(Vec<Node<'a>>),
    /// A comparison the analysis does not model, and whether it is negated.
    Opaque(&'a Condition, bool),
}

impl<'a> Node<'a> {
    fn as_leaf(&self) -> Option<&Leaf<'a>> {
        match self {
            Node::Leaf(leaf) => Some(leaf),
            _ => None,
        }
    }
}

/// A comparison, test or `exists` (negated or not) as a fact on one attribute.
#[derive(Clone, Debug)]
struct Leaf<'a> {
    key: Key,
    fact: Fact,
    condition: &'a Condition,
    negated: bool,
}

impl Leaf<'_> {
    fn span(&self) -> Span {
        match self.condition {
            Condition::Cmp(comparison) => comparison.attr.span.to(comparison.value.span),
            Condition::Test(attr) | Condition::Exists(attr) => attr.span,
            _ => Span::default(),
        }
    }

    fn text(&self) -> String {
        let text = condition_text(self.condition);
        if self.negated {
            format!("not {text}")
        } else {
            text
        }
    }
}

fn normalise(condition: &Condition, negated: bool) -> Node<'_> {
    match condition {
        Condition::And(operands) | Condition::Or(operands) => {
            let nodes = operands.iter().map(|operand| normalise(operand, negated));
            if matches!(condition, Condition::And(_)) != negated {
                conjunction(nodes)
            } else {
                disjunction(nodes)
            }
        }
        Condition::Not(operand) => normalise(operand, !negated),
        Condition::Const(value) => Node::Const(*value != negated),
        Condition::Test(_) | Condition::Exists(_) | Condition::Cmp(_) => {
            leaf(condition, negated).map_or(Node::Opaque(condition, negated), Node::Leaf)
        }
    }
}

fn conjunction<'a>(nodes: impl Iterator<Item = Node<'a>>) -> Node<'a> {
    let mut flat = Vec::new();
    for node in nodes {
        match node {
            Node::And(operands, _) => flat.extend(operands),
            other => flat.push(other),
        }
    }
    let mut facts = Facts::new();
    for leaf in flat.iter().filter_map(Node::as_leaf) {
        add_fact(&mut facts, &leaf.key, &leaf.fact);
    }
    Node::And(flat, facts)
}

fn disjunction<'a>(nodes: impl Iterator<Item = Node<'a>>) -> Node<'a> {
    let mut flat = Vec::new();
    for node in nodes {
        match node {
            Node::Or(operands) => flat.extend(operands),
            other => flat.push(other),
        }
    }
    Node::Or(flat)
}

/// The top-level facts of a normalised condition.
fn facts_of<'n>(node: &'n Node<'_>) -> Cow<'n, Facts> {
    match node {
        Node::And(_, facts) => Cow::Borrowed(facts),
        Node::Leaf(leaf) => {
            let mut facts = Facts::new();
            add_fact(&mut facts, &leaf.key, &leaf.fact);
            Cow::Owned(facts)
        }
        Node::Const(_) | Node::Or(_) | Node::Opaque(..) => Cow::Owned(Facts::new()),
    }
}

/// Facts by attribute.
type Facts = BTreeMap<Key, Fact>;

/// Intersects `fact` into `facts`, with what it implies.
fn add_fact(facts: &mut Facts, key: &Key, fact: &Fact) {
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
struct Key {
    name: String,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
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
fn implied(key: &Key, fact: &Fact) -> Vec<(Key, Fact, &'static str)> {
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

/// Attributes that are never absent.
fn never_absent(name: &str) -> bool {
    matches!(name, "identity.authenticated" | "request.protocol") || name.starts_with("time.")
}

/// The fact of a comparison, test or `exists`, negated or not.
fn leaf(condition: &Condition, negated: bool) -> Option<Leaf<'_>> {
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
    Some(Leaf {
        key,
        fact,
        condition,
        negated,
    })
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

fn strings(items: &[super::ast::Literal]) -> Option<BTreeSet<String>> {
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

// ---------------------------------------------------------------------------------------
// Facts and value sets.

/// What a comparison needs of its attribute: whether it may be absent, and which present
/// values it accepts (`None`: none).
#[derive(Clone, Debug)]
struct Fact {
    absent: bool,
    present: Option<Values>,
}

impl Fact {
    fn present(values: Values) -> Self {
        Self {
            absent: false,
            present: Some(values),
        }
    }

    fn is_empty(&self) -> bool {
        !self.absent && self.present.as_ref().is_none_or(Values::is_empty)
    }

    fn intersect(&self, other: &Fact) -> Fact {
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
    fn is_subset(&self, other: &Fact) -> bool {
        (!self.absent || other.absent)
            && match (&self.present, &other.present) {
                (None, _) => true,
                (Some(mine), None) => mine.is_empty(),
                (Some(mine), Some(theirs)) => mine.is_subset(theirs),
            }
    }

    /// The fact of the negated comparison, if it can be expressed.
    fn negate(&self) -> Option<Fact> {
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
enum Values {
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

/// Integer-like values within the domain `lo..=hi`.
#[derive(Clone, Debug)]
struct Ints {
    lo: i128,
    hi: i128,
    set: Ranges<i128>,
}

impl Ints {
    fn bool(value: bool) -> Self {
        let v = i128::from(value);
        Self {
            lo: 0,
            hi: 1,
            set: Ranges::new(vec![(v, v)]),
        }
    }
}

/// IP addresses: IPv4 and IPv6 are disjoint.
#[derive(Clone, Debug)]
struct Ips {
    v4: Ranges<u128>,
    v6: Ranges<u128>,
}

const V4_MAX: u128 = u32::MAX as u128;

impl Ips {
    fn of(networks: &[(IpAddr, u8)]) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (address, prefix) in networks {
            match address {
                IpAddr::V4(a) => v4.push(block(u128::from(u32::from(*a)), 32, *prefix)),
                IpAddr::V6(a) => v6.push(block(u128::from(*a), 128, *prefix)),
            }
        }
        Self {
            v4: Ranges::new(v4),
            v6: Ranges::new(v6),
        }
    }

    fn complement(&self) -> Self {
        Self {
            v4: self.v4.complement(0, V4_MAX),
            v6: self.v6.complement(0, u128::MAX),
        }
    }
}

/// The addresses of a network: `base` with its low `width - prefix` bits free.
fn block(base: u128, width: u32, prefix: u8) -> (u128, u128) {
    let host_bits = width.saturating_sub(u32::from(prefix));
    let mask = match host_bits {
        0 => 0,
        bits => u128::MAX >> (128 - bits.min(128)),
    };
    (base & !mask, base | mask)
}

/// A point type of [`Ranges`].
trait Point: Copy + Ord {
    fn next(self) -> Option<Self>;
    fn prev(self) -> Option<Self>;
}

impl Point for i128 {
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn prev(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

impl Point for u128 {
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn prev(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

/// A union of inclusive ranges: sorted, disjoint and not adjacent.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ranges<T>(Vec<(T, T)>);

impl<T: Point> Ranges<T> {
    fn new(mut ranges: Vec<(T, T)>) -> Self {
        ranges.retain(|(start, end)| start <= end);
        ranges.sort();
        let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match out.last_mut() {
                Some(last) if last.1.next().is_none_or(|after| start <= after) => {
                    last.1 = last.1.max(end);
                }
                _ => out.push((start, end)),
            }
        }
        Self(out)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn intersect(&self, other: &Self) -> Self {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while let (Some(&(a0, a1)), Some(&(b0, b1))) = (self.0.get(i), other.0.get(j)) {
            let (start, end) = (a0.max(b0), a1.min(b1));
            if start <= end {
                out.push((start, end));
            }
            if a1 < b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Self(out)
    }

    /// `lo..=hi` without `self`.
    fn complement(&self, lo: T, hi: T) -> Self {
        let mut out = Vec::new();
        let mut cursor = Some(lo);
        for &(start, end) in &self.0 {
            let Some(from) = cursor else { break };
            if start > from
                && let Some(before) = start.prev()
            {
                out.push((from, before.min(hi)));
            }
            cursor = if end >= from { end.next() } else { Some(from) };
        }
        if let Some(from) = cursor {
            out.push((from, hi));
        }
        Self::new(out)
    }

    fn is_subset(&self, other: &Self) -> bool {
        self.intersect(other) == *self
    }
}

/// A condition on a string.
#[derive(Clone, Debug)]
enum StrAtom {
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
struct Pattern {
    op: Operator,
    text: String,
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
    fn negate(&self) -> StrAtom {
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
struct StrCons<'v> {
    finite: Option<Vec<&'v str>>,
    others: Vec<&'v StrAtom>,
}

impl<'v> StrCons<'v> {
    fn new(atoms: &'v [StrAtom]) -> Self {
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

    fn prefixes(&self, holds: bool) -> impl Iterator<Item = &'v str> + '_ {
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
    fn is_empty(&self) -> bool {
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
    fn within(&self, atom: &StrAtom) -> bool {
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

/// A condition on a set of strings.
#[derive(Clone, Debug)]
enum SetAtom {
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
    fn negate(&self) -> SetAtom {
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
struct SetCons<'v> {
    req: BTreeSet<&'v str>,
    forb: BTreeSet<&'v str>,
    anys: Vec<BTreeSet<&'v str>>,
    not_alls: Vec<BTreeSet<&'v str>>,
}

impl<'v> SetCons<'v> {
    fn new(atoms: &'v [SetAtom]) -> Self {
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

    fn is_empty(&self) -> bool {
        !self.req.is_disjoint(&self.forb)
            || self.anys.iter().any(BTreeSet::is_empty)
            || self.not_alls.iter().any(BTreeSet::is_empty)
    }

    /// Whether every set satisfying `self` satisfies `atom` (`false` when unsure; the
    /// caller tests emptiness).
    fn within(&self, atom: &SetAtom) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{check, parse};

    const NOW: &str = "2026-11-23T12:00:00Z";

    /// The lint codes for `source` (which must check clean), in order.
    fn codes_at(source: &str, now: &str) -> Vec<&'static str> {
        lint_at(source, now).iter().map(|d| d.code).collect()
    }

    fn lint_at(source: &str, now: &str) -> Vec<Diagnostic> {
        let (policy, syntax) = parse(source);
        assert!(syntax.is_empty(), "{source}: {syntax:?}");
        let errors = check(&policy, source);
        assert!(errors.is_empty(), "{source}: {errors:?}");
        lint(&policy, now.parse().unwrap())
    }

    fn codes(source: &str) -> Vec<&'static str> {
        codes_at(source, NOW)
    }

    /// The codes for one allow rule that requires an identity, with `condition` added.
    fn condition_codes(condition: &str) -> Vec<&'static str> {
        codes(&format!(
            "allow \"r\" when identity.groups has \"x\" and {condition}\n"
        ))
    }

    #[test]
    fn false_never_matches() {
        let diagnostics = lint_at("allow \"r\" when false\n", NOW);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, NEVER);
        assert_eq!(
            diagnostics[0].message,
            "rule \"r\" never matches: its condition is `false`"
        );
        assert_eq!(condition_codes("request.host == \"a\" and false"), [NEVER]);
        assert_eq!(condition_codes("(false or request.host == \"a\")"), [""; 0]);
    }

    #[test]
    fn contradicting_constraints_never_match() {
        for condition in [
            "request.host == \"a\" and request.host == \"b\"",
            "request.method == \"GET\" and request.method in [\"POST\", \"PUT\"]",
            "request.method in [\"GET\", \"HEAD\"] and request.method in [\"POST\"]",
            "request.host == \"a\" and request.host != \"a\"",
            "request.host exists and not request.host exists",
            "request.host == \"a\" and not request.host exists",
            "time.hour in 8..10 and time.hour in 12..14",
            "time.hour in 22..5 and time.hour in 8..18",
            "time.hour > 23",
            "not time.hour exists",
            "time.weekday in sat..sun and time.weekday in mon..fri",
            "time.weekday in fri..mon and time.weekday in tue..thu",
            "identity.auth_age < 1h and identity.auth_age > 2h",
            "time.date < \"2026-01-01\" and time.date > \"2026-12-31\"",
            "time.now < \"2026-01-01T00:00:00Z\" and time.now >= \"2026-01-01T01:00:00+01:00\"",
            "ssh.port in 1..1023 and ssh.port == 2222",
            "request.source_ip in \"10.0.0.0/8\" and request.source_ip in \"192.168.0.0/16\"",
            "request.source_ip in [\"10.0.0.0/8\"] and request.source_ip in [\"2001:db8::/32\"]",
            "request.source_ip in \"::/0\" and request.source_ip == \"10.1.2.3\"",
            "request.source_ip == \"10.1.2.3\" and request.source_ip not-in \"10.0.0.0/8\"",
            "identity.kind != \"user\" and identity.kind != \"workload\"",
            "request.path starts_with \"/a\" and request.path starts_with \"/b\"",
            "request.path == \"/x\" and request.path starts_with \"/a\"",
            "request.path starts_with \"/admin/x\" and not request.path starts_with \"/admin\"",
            "request.path ends_with \".json\" and request.path ends_with \".xml\"",
            "request.path matches \"/a\" and request.path == \"/b\"",
            "identity.groups has \"a\" and not identity.groups has \"a\"",
            "identity.groups has-any [\"a\", \"b\"] and not identity.groups has-any [\"a\", \"b\", \"c\"]",
            "identity.groups has-all [\"a\", \"b\"] and not identity.groups has \"b\"",
            "identity.claims.tier == \"gold\" and identity.claims.tier in [\"silver\"]",
            "identity.claims.level >= 3 and identity.claims.level < 3",
            "identity.email_verified and identity.email_verified == false",
            "not identity.authenticated and identity.authenticated",
            "identity.authenticated == false",
            "identity.email == \"a@b\" and not identity.authenticated",
            "(request.host == \"a\" and request.host == \"b\")",
            "((request.host == \"a\" and request.host == \"b\") or time.hour > 23)",
        ] {
            assert_eq!(condition_codes(condition), [NEVER], "{condition}");
        }
    }

    #[test]
    fn satisfiable_conjunctions_are_not_reported() {
        for condition in [
            "request.host == \"a\" and request.host in [\"a\", \"b\"]",
            "request.host != \"a\" and request.host != \"b\"",
            "not request.host == \"a\" and not request.host exists",
            "time.hour in 22..5 and time.hour in 4..8",
            "time.hour in 22..5 and time.hour in 23..1",
            "time.hour in 22..5 and time.hour in 21..22",
            "time.minute in 50..10 and time.minute == 0",
            "time.weekday in fri..mon and time.weekday in mon..wed",
            "time.weekday in sun..sun and time.weekday in sat..mon",
            "time.hour in 8..18 and not time.hour in 12..12",
            "request.source_ip in [\"10.0.0.0/8\", \"2001:db8::/32\"] and request.source_ip in \"2001:db8::/48\"",
            "request.source_ip in \"10.0.0.0/8\" and request.source_ip != \"10.0.0.1\"",
            "request.source_ip in \"0.0.0.0/0\" and request.source_ip in \"255.255.255.255/32\"",
            "request.path starts_with \"/a\" and request.path starts_with \"/ab\"",
            "request.path starts_with \"/ab\" and not request.path starts_with \"/abc\"",
            "request.path ends_with \".json\" and request.path ends_with \"x.json\"",
            "request.path == \"/a\" and request.path matches \"/*\"",
            "request.path ~ /\\/a/ and not request.path ~ /\\/b/",
            "identity.groups has \"a\" and not identity.groups has \"b\"",
            "identity.groups has-any [\"a\", \"b\"] and not identity.groups has \"a\"",
            "not identity.claims.x == \"a\" and identity.claims.x == 5",
            "not kube.verb exists and ssh.login == \"x\"",
            "not ssh.login == \"root\" and kube.verb == \"get\"",
            "request.protocol == \"kube\" and kube.verb == \"get\" and request.path == \"/api\"",
            "request.protocol in [\"http\", \"ssh\"] and request.source_ip in \"10.0.0.0/8\"",
            "identity.auth_age < 1h and identity.auth_age >= 59m",
            "(request.host == \"a\" or request.host == \"b\") and request.host != \"a\"",
            "request.method == \"GET\"",
        ] {
            assert_eq!(condition_codes(condition), [""; 0], "{condition}");
        }
    }

    #[test]
    fn protocols_do_not_mix() {
        for condition in [
            "kube.verb == \"get\" and ssh.login == \"root\"",
            "request.protocol == \"http\" and kube.verb == \"get\"",
            "request.protocol in [\"http\", \"ssh\"] and kube.namespace == \"a\"",
            "ssh.login == \"deploy\" and request.path starts_with \"/\"",
            "request.protocol != \"ssh\" and ssh.channel exists",
        ] {
            assert_eq!(condition_codes(condition), [NEVER], "{condition}");
        }
        let diagnostics = lint_at(
            "allow \"r\" when identity.authenticated and kube.verb == \"get\" and ssh.login == \"root\"\n",
            NOW,
        );
        assert_eq!(
            diagnostics[0].message,
            "rule \"r\" never matches: `ssh.login == \"root\"` (only in ssh requests) contradicts `kube.verb == \"get\"` (only in kube requests)"
        );
    }

    #[test]
    fn identity_attributes_need_an_identity() {
        let diagnostics = lint_at(
            "allow \"r\" when identity.groups has \"a\" and not identity.authenticated\n",
            NOW,
        );
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(
            diagnostics[0].message,
            "rule \"r\" never matches: `not identity.authenticated` contradicts `identity.groups has \"a\"` (only with an identity)"
        );
    }

    #[test]
    fn the_conflicting_comparison_is_pointed_at() {
        let source = "allow \"r\" when identity.authenticated and request.host == \"a\" and request.host == \"b\"\n";
        let diagnostics = lint_at(source, NOW);
        assert_eq!(diagnostics.len(), 1);
        let span = diagnostics[0].span;
        assert_eq!(&source[span.start..span.end], "request.host == \"b\"");
        assert_eq!(
            diagnostics[0].message,
            "rule \"r\" never matches: `request.host == \"b\"` contradicts `request.host == \"a\"`"
        );
    }

    #[test]
    fn lower_case_methods_are_flagged() {
        let source =
            "allow \"r\" when identity.authenticated and request.method in [\"GET\", \"get\"]\n";
        let diagnostics = lint_at(source, NOW);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, NEVER);
        assert_eq!(diagnostics[0].hint.as_deref(), Some("write \"GET\""));
        let span = diagnostics[0].span;
        assert_eq!(&source[span.start..span.end], "\"get\"");
        assert_eq!(condition_codes("request.method == \"PROPFIND\""), [""; 0]);
        assert_eq!(condition_codes("kube.verb == \"get\""), [""; 0]);
    }

    #[test]
    fn allows_shadowed_by_denies() {
        let shadowed = [
            (
                "identity.groups has \"eng\" and request.host == \"a\"",
                "request.host in [\"a\", \"b\"]",
            ),
            (
                "identity.groups has \"eng\" and request.source_ip in \"10.1.0.0/16\"",
                "request.source_ip in [\"10.0.0.0/8\", \"2001:db8::/32\"]",
            ),
            (
                "identity.groups has \"eng\" and request.path starts_with \"/admin/users\"",
                "request.path starts_with \"/admin\"",
            ),
            (
                "identity.groups has \"eng\" and time.hour in 9..17",
                "time.hour in 8..18",
            ),
            (
                "identity.groups has \"eng\" and time.hour in 23..2",
                "time.hour in 22..5",
            ),
            (
                "identity.groups has-all [\"eng\", \"sre\"]",
                "identity.groups has-any [\"sre\", \"ops\"]",
            ),
            (
                "identity.groups has \"eng\" and request.host != \"a\"",
                "not request.host == \"a\"",
            ),
            (
                "identity.groups has \"eng\" and not identity.groups has \"admins\"",
                "not identity.groups has-all [\"admins\", \"x\"]",
            ),
            (
                "identity.groups has \"eng\" and kube.verb == \"get\"",
                "request.protocol == \"kube\"",
            ),
            (
                "identity.groups has \"eng\" and (request.host == \"a\" or request.host == \"b\")",
                "request.host in [\"a\", \"b\", \"c\"]",
            ),
            (
                "identity.groups has \"eng\" and identity.auth_age < 1h",
                "identity.auth_age <= 2h or identity.groups has \"eng\"",
            ),
            ("identity.groups has \"eng\"", "true"),
            ("identity.groups has \"eng\"", "identity.authenticated"),
            (
                "identity.groups has \"eng\" and request.path == \"/admin/users\"",
                "request.path starts_with \"/admin\"",
            ),
            (
                "identity.groups has \"eng\" and request.path in [\"/admin/a\", \"/admin/b\"]",
                "request.path starts_with \"/admin/\"",
            ),
            (
                "identity.groups has \"eng\" and request.path starts_with \"/a/very/long/prefix/that/goes/on/and/on/beyond/sixty-four/characters/x\"",
                "request.path starts_with \"/a/very/long/prefix/that/goes/on/and/on/beyond/sixty-four/characters/\"",
            ),
            (
                "identity.groups has \"eng\" and request.path starts_with \"/\u{fc}/\u{e4}\"",
                "request.path starts_with \"/\u{fc}\"",
            ),
            (
                "identity.groups has \"eng\" and request.host == \"a\"",
                "request.host == \"a\" or request.host == \"b\"",
            ),
        ];
        for (allow, deny) in shadowed {
            let source = format!("allow \"a\" when {allow}\ndeny \"d\" when {deny}\n");
            let diagnostics = lint_at(&source, NOW);
            let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
            assert!(codes.contains(&SHADOWED), "{allow} / {deny}: {codes:?}");
            let shadow = diagnostics.iter().find(|d| d.code == SHADOWED).unwrap();
            assert_eq!(
                shadow.message,
                "allow rule \"a\" never allows: deny rule \"d\" is active whenever it is and matches every request it matches"
            );
            assert_eq!(&source[shadow.span.start..shadow.span.end], "\"a\"");
        }
    }

    #[test]
    fn allows_not_shadowed() {
        let fine = [
            (
                "identity.groups has \"eng\" and request.host == \"a\"",
                "request.host == \"a\" and request.path starts_with \"/admin\"",
            ),
            (
                "identity.groups has \"eng\" and not request.host == \"a\"",
                "request.host != \"a\"",
            ),
            (
                "identity.groups has \"eng\" and time.hour in 22..5",
                "time.hour in 23..6",
            ),
            (
                "identity.groups has \"eng\" and request.source_ip in \"10.0.0.0/8\"",
                "request.source_ip in \"10.1.0.0/16\"",
            ),
            (
                "identity.groups has \"eng\" and request.path starts_with \"/admin\"",
                "request.path starts_with \"/admin/\"",
            ),
            (
                "identity.groups has-any [\"eng\", \"sre\"]",
                "identity.groups has \"sre\"",
            ),
            (
                "identity.groups has \"eng\" and (request.host == \"a\" or request.host == \"z\")",
                "request.host in [\"a\", \"b\", \"c\"]",
            ),
        ];
        for (allow, deny) in fine {
            let source = format!("allow \"a\" when {allow}\ndeny \"d\" when {deny}\n");
            let codes = codes(&source);
            assert!(!codes.contains(&SHADOWED), "{allow} / {deny}: {codes:?}");
        }
    }

    #[test]
    fn windows_must_enclose() {
        let allow = "allow \"a\" from \"2026-11-24T08:00:00Z\" until \"2026-11-24T18:00:00Z\" when identity.groups has \"eng\"\n";
        let deny_always = "deny \"d\" when identity.groups has \"eng\"\n";
        assert_eq!(codes(&format!("{allow}{deny_always}")), [SHADOWED]);
        let deny_wider = "deny \"d\" from \"2026-11-24T07:00:00Z\" until \"2026-11-24T19:00:00+01:00\" when identity.groups has \"eng\"\n";
        assert_eq!(codes(&format!("{allow}{deny_wider}")), [SHADOWED]);
        let deny_shorter =
            "deny \"d\" from \"2026-11-24T09:00:00Z\" when identity.groups has \"eng\"\n";
        assert_eq!(codes(&format!("{allow}{deny_shorter}")), [""; 0]);
        let allow_always = "allow \"a\" when identity.groups has \"eng\"\n";
        let deny_windowed =
            "deny \"d\" until \"2027-01-01T00:00:00Z\" when identity.groups has \"eng\"\n";
        assert_eq!(codes(&format!("{allow_always}{deny_windowed}")), [""; 0]);
    }

    #[test]
    fn redundant_rules_of_one_effect() {
        let source = "allow \"narrow\" when identity.groups has \"eng\" and request.host == \"a\"\nallow \"broad\" when identity.groups has \"eng\"\n";
        let diagnostics = lint_at(source, NOW);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(
            diagnostics[0].message,
            "rule \"narrow\" is redundant: allow rule \"broad\" is active whenever it is and matches every request it matches"
        );
        let span = diagnostics[0].span;
        assert_eq!(&source[span.start..span.end], "\"narrow\"");

        // Equivalent rules with equal windows: only the later one.
        let twins = "allow \"first\" when identity.groups has \"eng\" and request.host in [\"a\"]\nallow \"second\" when request.host == \"a\" and identity.groups has-all [\"eng\"]\n";
        let diagnostics = lint_at(twins, NOW);
        assert_eq!(diagnostics.len(), 1);
        assert!(
            diagnostics[0]
                .message
                .starts_with("rule \"second\" is redundant")
        );

        // Equivalent conditions, one window inside the other: the narrower one.
        let windows = "allow \"jit\" until \"2027-01-01T00:00:00Z\" when identity.groups has \"eng\"\nallow \"always\" when identity.groups has \"eng\"\n";
        let diagnostics = lint_at(windows, NOW);
        assert_eq!(diagnostics.len(), 1);
        assert!(
            diagnostics[0]
                .message
                .starts_with("rule \"jit\" is redundant")
        );

        let denies = "deny \"d1\" when request.path starts_with \"/admin/x\" and not identity.groups has \"admins\"\ndeny \"d2\" when request.path starts_with \"/admin\" and not identity.groups has \"admins\"\n";
        assert_eq!(codes(denies), [SHADOWED]);

        let different = "allow \"a\" when identity.groups has \"eng\" and request.host == \"a\"\nallow \"b\" when identity.groups has \"eng\" and request.host == \"b\"\n";
        assert_eq!(codes(different), [""; 0]);
        // A deny is never made redundant by an allow, nor the other way round.
        let mixed = "deny \"d\" when request.host == \"a\" and identity.groups has \"eng\"\nallow \"a\" when identity.groups has \"eng\"\n";
        assert_eq!(codes(mixed), [""; 0]);
    }

    #[test]
    fn allow_without_identity() {
        for condition in [
            "request.host == \"a\"",
            "not identity.groups has \"admins\"",
            "identity.authenticated == false",
            "not identity.authenticated",
            "identity.authenticated exists",
            "identity.groups has \"a\" or request.host == \"b\"",
            "not identity.kind == \"user\"",
            "not (identity.groups has \"a\" and identity.email exists)",
            "true",
        ] {
            let source = format!("allow \"r\" when {condition}\n");
            assert_eq!(codes(&source), [WITHOUT_IDENTITY], "{condition}");
        }
        for condition in [
            "identity.groups has \"a\"",
            "identity.authenticated",
            "identity.authenticated == true",
            "identity.authenticated != false",
            "identity.kind != \"user\"",
            "not not identity.email exists",
            "not (not identity.groups has \"a\" or request.host == \"b\")",
            "request.host == \"a\" and (identity.groups has \"a\" or identity.email exists)",
            "identity.claims.admin == true",
            "identity.auth_age < 1h",
        ] {
            let source = format!("allow \"r\" when {condition}\n");
            assert_eq!(codes(&source), [""; 0], "{condition}");
        }
        assert_eq!(codes("deny \"r\" when request.host == \"a\"\n"), [""; 0]);
        assert_eq!(
            codes(
                "allow \"r\" when not identity.authenticated and not identity.groups has \"a\"\n"
            ),
            [WITHOUT_IDENTITY]
        );
        let suppressed = "# Anonymous health checks.\n# zt-lint: allow allow-without-identity\nallow \"r\" when request.path == \"/healthz\"\n";
        assert_eq!(codes(suppressed), [""; 0]);
    }

    #[test]
    fn expired_rules() {
        let source = "allow \"INC-4711\" from \"2026-11-24T08:00:00Z\" until \"2026-11-24T18:00:00Z\"\n  when identity.email == \"sally@example.com\"\n";
        assert_eq!(codes_at(source, "2026-11-24T17:59:59.999999999Z"), [""; 0]);
        assert_eq!(codes_at(source, "2026-11-24T19:00:00+01:00"), [EXPIRED]);
        let diagnostics = lint_at(source, "2027-01-01T00:00:00Z");
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(
            diagnostics[0].message,
            "rule \"INC-4711\" expired at 2026-11-24T18:00:00Z"
        );
        assert_eq!(diagnostics[0].hint.as_deref(), Some("remove the rule"));
        let span = diagnostics[0].span;
        assert_eq!(&source[span.start..span.end], "\"2026-11-24T18:00:00Z\"");
        let from_only = "allow \"r\" from \"2020-01-01T00:00:00Z\" when identity.authenticated\n";
        assert_eq!(codes(from_only), [""; 0]);
    }

    #[test]
    fn deny_skips_absent() {
        for condition in [
            "request.host != \"a\"",
            "request.source_ip not-in [\"10.0.0.0/8\"]",
            "request.header.x-team != \"payments\"",
            "request.query.debug != \"1\"",
            "identity.claims.tier not-in [\"gold\"]",
            "identity.kind != \"user\"",
            "kube.namespace != \"payments\"",
            "ssh.command != \"uptime\"",
        ] {
            let source = format!("deny \"d\" when time.weekday in mon..fri and {condition}\n");
            assert_eq!(codes(&source), [SKIPS_ABSENT], "{condition}");
        }
        for condition in [
            "not request.host == \"a\"",
            "not request.source_ip in [\"10.0.0.0/8\"]",
            "request.method != \"GET\"",
            "request.protocol != \"http\"",
            "kube.verb != \"get\"",
            "ssh.login != \"root\"",
            "ssh.port != 22",
            "time.hour not-in 8..18",
            "identity.authenticated != true",
            "(not request.host exists or request.host != \"a\")",
            "request.host exists and request.host != \"a\"",
            "request.host starts_with \"a\" and request.host != \"ab\"",
        ] {
            let source = format!("deny \"d\" when time.weekday in mon..fri and {condition}\n");
            assert_eq!(codes(&source), [""; 0], "{condition}");
        }
        let source = "deny \"d\" when request.host != \"a\"\n";
        let diagnostics = lint_at(source, NOW);
        assert_eq!(
            diagnostics[0].message,
            "`request.host != \"a\"` is false when `request.host` is absent, so deny rule \"d\" lets requests without it through"
        );
        assert_eq!(
            diagnostics[0].hint.as_deref(),
            Some("to deny requests without `request.host` too, write `not request.host == \"a\"`")
        );
        let list = lint_at(
            "deny \"d\" when identity.email not-in [\"a\", \"b\"]\n",
            NOW,
        );
        assert_eq!(
            list[0].hint.as_deref(),
            Some(
                "to deny requests without `identity.email` too, write `not identity.email in [\"a\", \"b\"]`"
            )
        );
        // Allow rules may use `!=`: absent values do not grant access.
        assert_eq!(condition_codes("request.host != \"a\""), [""; 0]);
    }

    #[test]
    fn host_suffix() {
        for (attr, code) in [
            ("request.host", vec![HOST_SUFFIX]),
            ("ssh.host", vec![HOST_SUFFIX]),
            ("identity.domain", vec![HOST_SUFFIX]),
            ("identity.email", vec![]),
            ("request.path", vec![]),
        ] {
            assert_eq!(
                condition_codes(&format!("{attr} ends_with \"example.com\"")),
                code,
                "{attr}"
            );
        }
        assert_eq!(
            condition_codes("request.host ends_with \".example.com\""),
            [""; 0]
        );
        let source = "allow \"r\" when identity.authenticated and not request.host ends_with \"example.com\"\n";
        let diagnostics = lint_at(source, NOW);
        assert_eq!(
            diagnostics[0].message,
            "`request.host ends_with \"example.com\"` also matches \"evilexample.com\""
        );
        assert_eq!(
            diagnostics[0].hint.as_deref(),
            Some(
                "write `request.host ends_with \".example.com\"` or `request.host matches \"**.example.com\"` (and `request.host == \"example.com\"` for the name itself)"
            )
        );
        let span = diagnostics[0].span;
        assert_eq!(&source[span.start..span.end], "\"example.com\"");
    }

    #[test]
    fn comments_silence_codes_per_rule() {
        let source = "# zt-lint: allow never-matches, host-suffix\nallow \"a\" when identity.authenticated and request.host ends_with \"x.com\" and false\n\nallow \"b\" when identity.authenticated and request.host ends_with \"x.com\" and false\n";
        let diagnostics = lint_at(source, NOW);
        let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [NEVER, HOST_SUFFIX]);
        assert!(
            diagnostics
                .iter()
                .all(|d| d.span.start >= source.find("\"b\"").unwrap())
        );
        assert!(allowed_codes(" zt-lint: allowance").is_none());
        assert!(allowed_codes("zt-lint: deny x").is_none());
        assert_eq!(
            allowed_codes(" zt-lint:  allow a,b ,  c")
                .unwrap()
                .collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn results_come_in_source_order() {
        let source = "deny \"d\" until \"2020-01-01T00:00:00Z\" when request.host != \"a\" and identity.domain ends_with \"b.com\"\nallow \"a\" when false\n";
        let codes = codes(source);
        assert_eq!(codes, [EXPIRED, SKIPS_ABSENT, HOST_SUFFIX, NEVER]);
    }

    #[test]
    fn prefix_cuts_count_characters() {
        assert_eq!(cut("a\u{fc}b", 2), Some("a\u{fc}"));
        assert_eq!(cut("a\u{fc}", 2), Some("a\u{fc}"));
        assert_eq!(cut("a", 2), None);
        assert_eq!(cut("", 0), Some(""));
    }

    #[test]
    fn ranges_and_cyclic_complements() {
        let r: Ranges<i128> = Ranges::new(vec![(5, 7), (1, 2), (3, 4), (10, 10)]);
        assert_eq!(r.0, vec![(1, 7), (10, 10)]);
        assert_eq!(r.complement(0, 12).0, vec![(0, 0), (8, 9), (11, 12)]);
        assert_eq!(
            Ranges::new(vec![(0u128, u128::MAX)])
                .complement(0, u128::MAX)
                .0,
            vec![]
        );
        assert!(Ranges::<i128>::new(vec![(2, 3)]).is_subset(&r));
        assert!(!Ranges::<i128>::new(vec![(7, 8)]).is_subset(&r));
        assert_eq!(block(0, 128, 0), (0, u128::MAX));
        assert_eq!(block(0x0a00_0000, 32, 8), (0x0a00_0000, 0x0aff_ffff));
        assert_eq!(block(7, 32, 32), (7, 7));
    }

    #[test]
    fn large_policies_finish() {
        let mut source = String::new();
        for i in 0..3_000 {
            source.push_str(&format!(
                "allow \"r{i}\" when identity.groups has \"g{}\" and request.host == \"h{i}.example.com\"\n",
                i % 7
            ));
        }
        source.push_str("deny \"all\" when identity.groups has-any [\"g1\", \"g2\"]\n");
        let diagnostics = lint_at(&source, NOW);
        let warnings: Vec<&Diagnostic> = diagnostics
            .iter()
            .filter(|d| d.severity == crate::policy::Severity::Warning)
            .collect();
        assert_eq!(warnings.len(), crate::policy::MAX_DIAGNOSTICS);
        assert!(warnings.iter().all(|d| d.code == SHADOWED));
    }
}

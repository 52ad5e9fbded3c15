//! The compiled policy and its decisions (docs/policy.md, section 1).
//!
//! [`Engine::compile`] checks a policy, compiles every rule once and indexes rules by
//! their most selective equality constraint (host, route, namespace, group, SSH host,
//! protocol, ...), so a decision evaluates only the rules that can match the request:
//! the rules without such a constraint and the buckets the request's values select.

use std::collections::HashMap;
use std::fmt;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value as Json, json};
use smallvec::SmallVec;

use super::ast::{Condition, Effect, Policy, Rule};
use super::compile::{Attr, Expr, Pred, compile, compile_attr};
use super::context::RequestContext;
use super::eval::{Scope, Val};
use super::literal::instant;
use super::pretty::condition_text;
use super::{Diagnostic, Severity, Span, check, parse, render_all};

type Buckets = HashMap<Box<str>, Box<[u32]>, foldhash::fast::RandomState>;

/// Matching rules of one decision; inline up to this many, so the decision does not
/// allocate unless more rules of the winning effect match.
const INLINE_MATCHES: usize = 8;

/// A policy compiled for deciding requests. Cheap to share (`Arc<Engine>`); deciding
/// takes `&self`.
///
/// ```
/// use zt_core::policy::{Effect, Engine, RequestContext};
///
/// let engine = Engine::from_source(
///     "allow \"health\" when request.path == \"/healthz\"\n\
///      deny \"no-admin\" reason \"admins only\" when request.path starts_with \"/admin\"\n",
/// )?;
/// let now = "2026-11-23T12:00:00Z".parse()?;
/// let decision = engine.decide(&RequestContext::http(now).with_path("/admin/users"));
/// assert_eq!(decision.effect(), Effect::Deny);
/// assert_eq!(decision.rules().collect::<Vec<_>>(), ["no-admin"]);
/// assert_eq!(decision.reason().unwrap().to_string(), "admins only");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Engine {
    rules: Box<[CompiledRule]>,
    source: Box<[Rule]>,
    deny: Index,
    allow: Index,
    timezone: TimeZone,
}

#[derive(Debug)]
struct CompiledRule {
    id: Box<str>,
    effect: Effect,
    from: Option<Timestamp>,
    until: Option<Timestamp>,
    reason: Option<Box<str>>,
    when: Expr,
}

impl CompiledRule {
    fn is_active(&self, now: Timestamp) -> bool {
        self.from.is_none_or(|from| now >= from) && self.until.is_none_or(|until| now < until)
    }
}

/// The rules of one effect: those the index cannot narrow, buckets by attribute value,
/// and (for rules whose only usable constraint is a `starts_with`) buckets by prefix.
#[derive(Debug, Default)]
struct Index {
    always: Box<[u32]>,
    keyed: Box<[(Attr, Buckets)]>,
    prefixed: Box<[(Attr, Prefixes)]>,
}

/// Rules by the prefix their attribute must start with, and the distinct prefix lengths
/// (ascending): a value is looked up once per length, never compared with every prefix.
#[derive(Debug, Default)]
struct Prefixes {
    lengths: Box<[usize]>,
    buckets: Buckets,
}

/// Why a policy could not be compiled: its diagnostics (errors, in source order).
#[derive(Debug, thiserror::Error)]
#[error("invalid policy: {} ({} error(s))", first_message(.diagnostics), .diagnostics.len())]
pub struct CompileError {
    diagnostics: Vec<Diagnostic>,
}

fn first_message(diagnostics: &[Diagnostic]) -> &str {
    diagnostics.first().map_or("", |d| d.message.as_str())
}

impl CompileError {
    /// The errors found.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The errors rendered for a terminal (docs/policy.md, section 9).
    pub fn render(&self, file: &str, source: &str) -> String {
        render_all(file, source, &self.diagnostics, 0)
    }
}

impl Engine {
    /// Parses, checks and compiles a policy in text form.
    pub fn from_source(source: &str) -> Result<Self, CompileError> {
        let (policy, mut diagnostics) = parse(source);
        diagnostics.extend(check(&policy, source));
        Self::build(&policy, diagnostics)
    }

    /// Checks and compiles a parsed policy (text or JSON form).
    pub fn compile(policy: &Policy) -> Result<Self, CompileError> {
        Self::build(policy, check(policy, ""))
    }

    fn build(policy: &Policy, mut diagnostics: Vec<Diagnostic>) -> Result<Self, CompileError> {
        diagnostics.retain(|d| d.severity == Severity::Error);
        if !diagnostics.is_empty() {
            return Err(CompileError { diagnostics });
        }
        let timezone = match &policy.timezone {
            Some((name, span)) => {
                jiff::tz::TimeZoneDatabase::bundled()
                    .get(name)
                    .map_err(|_| CompileError {
                        diagnostics: vec![error(*span, "unknown timezone")],
                    })?
            }
            None => TimeZone::UTC,
        };
        let rules = policy
            .rules
            .iter()
            .map(compile_rule)
            .collect::<Result<Box<[_]>, _>>()
            .map_err(|diagnostic| CompileError {
                diagnostics: vec![diagnostic],
            })?;
        let deny = Index::build(&rules, Effect::Deny);
        let allow = Index::build(&rules, Effect::Allow);
        Ok(Self {
            rules,
            source: policy.rules.clone().into(),
            deny,
            allow,
            timezone,
        })
    }

    /// Decides one request: deny if any active deny rule matches, else allow if any
    /// active allow rule matches, else deny with "no allow rule matched".
    pub fn decide(&self, request: &RequestContext<'_>) -> Decision<'_> {
        let scope = Scope::new(request, &self.timezone);
        let mut matched = SmallVec::new();
        self.collect(&self.deny, &scope, &mut matched);
        let effect = if matched.is_empty() {
            self.collect(&self.allow, &scope, &mut matched);
            if matched.is_empty() {
                Effect::Deny
            } else {
                Effect::Allow
            }
        } else {
            Effect::Deny
        };
        Decision {
            engine: self,
            effect,
            matched,
        }
    }

    /// Decides one request and explains it: one [`TraceEntry`] per rule, in source
    /// order. Evaluates every rule (bypassing the index): for tools, not the hot path.
    pub fn decide_traced(
        &self,
        request: &RequestContext<'_>,
    ) -> (Decision<'_>, Vec<TraceEntry<'_>>) {
        let scope = Scope::new(request, &self.timezone);
        let trace = self
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| TraceEntry {
                index,
                id: &rule.id,
                effect: rule.effect,
                result: if !rule.is_active(request.now) {
                    RuleResult::Inactive
                } else if scope.eval(&rule.when) {
                    RuleResult::Match
                } else {
                    RuleResult::NoMatch
                },
                failed: None,
            })
            .map(|mut entry| {
                if entry.result == RuleResult::NoMatch {
                    entry.failed = failed_conjunct(
                        entry.index,
                        &self.rules[entry.index].when,
                        &self.source[entry.index],
                        &scope,
                    );
                }
                entry
            })
            .collect();
        (self.decide(request), trace)
    }

    /// How many rules the policy has.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The policy's timezone (UTC without a `timezone` clause).
    pub fn timezone(&self) -> &TimeZone {
        &self.timezone
    }

    fn collect(&self, index: &Index, scope: &Scope<'_, '_>, matched: &mut Matches) {
        // A rule keyed by several values (`has-any`) can come up more than once.
        let mut consider = |rule: u32| {
            if !matched.contains(&rule) && self.matches(rule, scope) {
                matched.push(rule);
            }
        };
        index.always.iter().for_each(|&rule| consider(rule));
        for (attr, buckets) in &index.keyed {
            scope.index_keys(attr, |key| {
                if let Some(rules) = buckets.get(key) {
                    rules.iter().for_each(|&rule| consider(rule));
                }
            });
        }
        for (attr, prefixes) in &index.prefixed {
            scope.index_keys(attr, |value| {
                for &len in &prefixes.lengths {
                    if len > value.len() {
                        break;
                    }
                    if let Some(rules) =
                        value.get(..len).and_then(|head| prefixes.buckets.get(head))
                    {
                        rules.iter().for_each(|&rule| consider(rule));
                    }
                }
            });
        }
        matched.sort_unstable();
        matched.dedup();
    }

    fn matches(&self, rule: u32, scope: &Scope<'_, '_>) -> bool {
        self.rules
            .get(rule as usize)
            .is_some_and(|rule| rule.is_active(scope.ctx.now) && scope.eval(&rule.when))
    }
}

type Matches = SmallVec<[u32; INLINE_MATCHES]>;

fn compile_rule(rule: &Rule) -> Result<CompiledRule, Diagnostic> {
    let window = |text: &Option<String>, span: Span| {
        text.as_deref()
            .map(|text| instant(text).map_err(|(message, _)| error(span, &message)))
            .transpose()
    };
    Ok(CompiledRule {
        id: rule.id.as_str().into(),
        effect: rule.effect,
        from: window(&rule.from, rule.clause_spans[0])?,
        until: window(&rule.until, rule.clause_spans[1])?,
        reason: rule.reason.as_deref().map(Into::into),
        when: compile(&rule.when)?,
    })
}

fn error(span: Span, message: &str) -> Diagnostic {
    Diagnostic::error("bad-literal", span, message.to_owned())
}

impl Index {
    /// Indexes each rule of `effect` under the equality constraint whose values are
    /// shared with the fewest other rules; rules without one are always evaluated.
    fn build(rules: &[CompiledRule], effect: Effect) -> Self {
        let candidates: Vec<(u32, Vec<IndexKey<'_>>)> = rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.effect == effect)
            .filter_map(|(index, rule)| Some((u32::try_from(index).ok()?, index_keys(&rule.when))))
            .collect();
        let mut frequency: HashMap<(&Attr, &str), usize> = HashMap::new();
        for (_, keys) in &candidates {
            for (attr, values) in keys {
                for value in values {
                    *frequency.entry((attr, value)).or_default() += 1;
                }
            }
        }
        let cost = |attr: &Attr, values: &[&str]| -> usize {
            values
                .iter()
                .map(|value| frequency.get(&(attr, *value)).copied().unwrap_or(0))
                .sum()
        };
        let mut always = Vec::new();
        let mut keyed: Vec<(Attr, Bucketing)> = Vec::new();
        let mut prefixed: Vec<(Attr, Bucketing)> = Vec::new();
        for (rule, keys) in &candidates {
            let Some((attr, values)) = keys.iter().min_by_key(|(attr, values)| cost(attr, values))
            else {
                let prefix = rules
                    .get(*rule as usize)
                    .and_then(|compiled| prefix_key(&compiled.when));
                match prefix {
                    Some((attr, prefix)) => {
                        let slot = match prefixed.iter().position(|(known, _)| known == attr) {
                            Some(slot) => slot,
                            None => {
                                prefixed.push((attr.clone(), HashMap::new()));
                                prefixed.len() - 1
                            }
                        };
                        prefixed[slot]
                            .1
                            .entry(prefix.into())
                            .or_default()
                            .push(*rule);
                    }
                    None => always.push(*rule),
                }
                continue;
            };
            let slot = match keyed.iter().position(|(known, _)| known == *attr) {
                Some(slot) => slot,
                None => {
                    keyed.push(((*attr).clone(), HashMap::new()));
                    keyed.len() - 1
                }
            };
            for value in values {
                keyed[slot]
                    .1
                    .entry((*value).into())
                    .or_default()
                    .push(*rule);
            }
        }
        let prefixed = prefixed
            .into_iter()
            .map(|(attr, buckets)| {
                let mut lengths: Vec<usize> = buckets.keys().map(|prefix| prefix.len()).collect();
                lengths.sort_unstable();
                lengths.dedup();
                let buckets: Buckets = buckets
                    .into_iter()
                    .map(|(prefix, rules)| (prefix, rules.into_boxed_slice()))
                    .collect();
                (
                    attr,
                    Prefixes {
                        lengths: lengths.into(),
                        buckets,
                    },
                )
            })
            .collect();
        Self {
            always: always.into(),
            prefixed,
            keyed: keyed
                .into_iter()
                .map(|(attr, buckets)| {
                    let buckets: Buckets = buckets
                        .into_iter()
                        .map(|(key, mut rules)| {
                            rules.dedup();
                            (key, rules.into_boxed_slice())
                        })
                        .collect();
                    (attr, buckets)
                })
                .collect(),
        }
    }
}

/// An attribute and the values one of which a rule requires it to have.
type IndexKey<'r> = (&'r Attr, Vec<&'r str>);

/// Rules by attribute value, while the index is built.
type Bucketing = HashMap<Box<str>, Vec<u32>>;

/// The first top-level `starts_with` on a single-valued indexable attribute, for rules
/// without an equality constraint.
fn prefix_key(when: &Expr) -> Option<(&Attr, &str)> {
    when.conjuncts().iter().find_map(|conjunct| match conjunct {
        Expr::Test(test)
            if !test.negated && test.attr.is_indexable() && test.attr != Attr::Groups =>
        {
            match &test.pred {
                Pred::StartsWith(prefix) => Some((&test.attr, &**prefix)),
                _ => None,
            }
        }
        _ => None,
    })
}

/// The equality constraints of a condition's top-level conjuncts that the index can use.
fn index_keys(when: &Expr) -> Vec<IndexKey<'_>> {
    when.conjuncts()
        .iter()
        .filter_map(|conjunct| match conjunct {
            Expr::Test(test) if !test.negated && test.attr.is_indexable() => {
                let values: Vec<&str> = match (&test.pred, &test.attr) {
                    (Pred::StrEq(value), attr) if *attr != Attr::Groups => vec![value],
                    (Pred::StrIn(values), attr) if *attr != Attr::Groups => {
                        values.iter().map(|v| &**v).collect()
                    }
                    (Pred::Has(value), Attr::Groups) => vec![value],
                    (Pred::HasAny(values), Attr::Groups) => values.iter().map(|v| &**v).collect(),
                    (Pred::HasAll(values), Attr::Groups) => {
                        values.first().map(|v| vec![&**v]).unwrap_or_default()
                    }
                    _ => return None,
                };
                Some((&test.attr, values))
            }
            _ => None,
        })
        .collect()
}

/// The outcome of one decision (docs/policy.md, section 1.2). Borrows rule ids and
/// reasons from the engine; does not allocate unless more than 8 rules match.
#[derive(Clone, Debug)]
pub struct Decision<'e> {
    engine: &'e Engine,
    effect: Effect,
    matched: Matches,
}

impl<'e> Decision<'e> {
    /// Allow or deny.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// Whether access is granted.
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// Ids of the matching rules of the winning effect, in source order; empty for a
    /// default deny.
    pub fn rules(&self) -> impl ExactSizeIterator<Item = &'e str> + '_ {
        let rules = &self.engine.rules;
        self.matched
            .iter()
            .map(move |&index| rules.get(index as usize).map_or("", |rule| &*rule.id))
    }

    /// Why access was denied; `None` for an allow.
    pub fn reason(&self) -> Option<Reason<'e>> {
        if self.effect == Effect::Allow {
            return None;
        }
        let engine: &'e Engine = self.engine;
        Some(
            match self
                .matched
                .first()
                .and_then(|&index| engine.rules.get(index as usize))
            {
                None => Reason::NoAllowRuleMatched,
                Some(CompiledRule {
                    reason: Some(reason),
                    ..
                }) => Reason::Stated(reason),
                Some(rule) => Reason::DeniedByRule(&rule.id),
            },
        )
    }

    /// The decision as the audit log records it.
    pub fn to_audit(&self) -> crate::audit::Decision {
        let rules: Vec<String> = self.rules().map(str::to_owned).collect();
        let reason = self.reason().map(|reason| reason.to_string());
        match self.effect {
            Effect::Allow => crate::audit::Decision::allow(rules),
            Effect::Deny => crate::audit::Decision::deny_by(rules, reason.unwrap_or_default()),
        }
    }

    /// The decision object of docs/policy.md section 1.2 (without trace).
    pub fn to_json(&self) -> Json {
        let mut object = json!({
            "effect": self.effect,
            "rules": self.rules().collect::<Vec<_>>(),
        });
        if let (Some(reason), Some(map)) = (self.reason(), object.as_object_mut()) {
            map.insert("reason".into(), Json::String(reason.to_string()));
        }
        object
    }
}

/// Why a request was denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason<'e> {
    /// The first matching deny rule's `reason`.
    Stated(&'e str),
    /// The first matching deny rule had no reason: `denied by rule "<id>"`.
    DeniedByRule(&'e str),
    /// Default deny: `no allow rule matched`.
    NoAllowRuleMatched,
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stated(reason) => f.write_str(reason),
            Self::DeniedByRule(id) => write!(f, "denied by rule \"{id}\""),
            Self::NoAllowRuleMatched => f.write_str("no allow rule matched"),
        }
    }
}

/// How one rule fared in a traced decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleResult {
    /// The rule is active and its condition holds.
    Match,
    /// The rule is active and its condition does not hold.
    NoMatch,
    /// Outside its `from`/`until` window; the condition was not evaluated.
    Inactive,
}

impl RuleResult {
    /// `match`, `no-match` or `inactive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Match => "match",
            Self::NoMatch => "no-match",
            Self::Inactive => "inactive",
        }
    }
}

/// One rule in a traced decision.
#[derive(Clone, Debug)]
pub struct TraceEntry<'e> {
    index: usize,
    /// The rule id.
    pub id: &'e str,
    /// The rule's effect.
    pub effect: Effect,
    /// Whether it matched.
    pub result: RuleResult,
    /// For `no-match`: the first top-level conjunct that was false.
    pub failed: Option<FailedConjunct>,
}

/// The part of a rule's condition that did not hold, with the values it read.
#[derive(Clone, Debug)]
pub struct FailedConjunct {
    /// Where the conjunct is in the text form.
    pub span: Span,
    /// A JSON pointer to it in the JSON form, e.g. `/rules/2/when/and/1`.
    pub pointer: String,
    /// The conjunct, pretty-printed.
    pub condition: String,
    /// Each attribute it reads, as written, and its value in the request (`null` when
    /// absent).
    pub values: Vec<(String, Json)>,
}

impl TraceEntry<'_> {
    /// The trace entry as JSON (docs/policy.md, section 1.2). `at` is `line:column` in
    /// `source`, or the JSON pointer when `source` is empty (a JSON-form policy).
    pub fn to_json(&self, source: &str) -> Json {
        let mut object = json!({
            "rule": self.id,
            "effect": self.effect,
            "result": self.result.as_str(),
        });
        if let (Some(failed), Some(map)) = (&self.failed, object.as_object_mut()) {
            map.insert(
                "failed".into(),
                json!({
                    "at": failed.location(source),
                    "condition": failed.condition,
                    "values": failed.values.iter().cloned().collect::<serde_json::Map<_, _>>(),
                }),
            );
        }
        object
    }
}

impl FailedConjunct {
    /// `line:column` in `source`, or the JSON pointer when `source` is empty.
    pub fn location(&self, source: &str) -> String {
        if source.is_empty() {
            return self.pointer.clone();
        }
        let (line, column) = super::diagnostic::line_column(source, self.span.start);
        format!("{line}:{column}")
    }
}

fn failed_conjunct(
    index: usize,
    when: &Expr,
    rule: &Rule,
    scope: &Scope<'_, '_>,
) -> Option<FailedConjunct> {
    let conjuncts: &[Condition] = match &rule.when {
        Condition::And(operands) => operands,
        other => std::slice::from_ref(other),
    };
    let position = when.conjuncts().iter().position(|expr| !scope.eval(expr))?;
    let condition = conjuncts.get(position)?;
    let pointer = match &rule.when {
        Condition::And(_) => format!("/rules/{index}/when/and/{position}"),
        _ => format!("/rules/{index}/when"),
    };
    let mut values = Vec::new();
    attributes(condition, &mut |attribute| {
        let name = attribute.dotted();
        if values.iter().any(|(known, _)| *known == name) {
            return;
        }
        let value = compile_attr(attribute)
            .ok()
            .and_then(|attr| scope.value(&attr))
            .map_or(Json::Null, value_json);
        values.push((name, value));
    });
    Some(FailedConjunct {
        span: condition_span(condition).unwrap_or(rule.span),
        pointer,
        condition: condition_text(condition),
        values,
    })
}

fn attributes(condition: &Condition, visit: &mut impl FnMut(&super::Attribute)) {
    match condition {
        Condition::And(operands) | Condition::Or(operands) => {
            operands
                .iter()
                .for_each(|operand| attributes(operand, visit));
        }
        Condition::Not(operand) => attributes(operand, visit),
        Condition::Const(_) => {}
        Condition::Test(attr) | Condition::Exists(attr) => visit(attr),
        Condition::Cmp(comparison) => visit(&comparison.attr),
    }
}

fn condition_span(condition: &Condition) -> Option<Span> {
    match condition {
        Condition::And(operands) | Condition::Or(operands) => {
            operands.first().and_then(condition_span)
        }
        Condition::Not(operand) => condition_span(operand),
        Condition::Const(_) => None,
        Condition::Test(attr) | Condition::Exists(attr) => Some(attr.span),
        Condition::Cmp(comparison) => Some(comparison.attr.span),
    }
}

fn value_json(value: Val<'_>) -> Json {
    match value {
        Val::Str(text) => Json::String(text.into_owned()),
        Val::Bool(b) => Json::Bool(b),
        Val::Int(n) => json!(n),
        Val::Ip(address) => Json::String(address.to_string()),
        Val::Groups(groups) => json!(groups),
        Val::Weekday(day) => Json::String(
            super::literal::WEEKDAYS
                .get(usize::from(day))
                .copied()
                .unwrap_or("?")
                .to_owned(),
        ),
        Val::Date(date) => Json::String(date.to_string()),
        Val::Instant(instant) => Json::String(instant.to_string()),
        Val::Duration(duration) => Json::String(format!("{duration:#}")),
        Val::Json(value) => value.clone(),
    }
}

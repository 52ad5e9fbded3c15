//! `shadowed-rule`: rules another rule makes unable to allow, or redundant, by being active
//! whenever they are and matching every request they match.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::index::Index;
use super::prover::Prover;
use super::{Analysed, SHADOWED};
use crate::policy::Diagnostic;
use crate::policy::ast::{Effect, Rule};
use crate::policy::lexer::quote;
use crate::policy::literal;

/// Implication steps spent on one pair of rules before giving up on it.
const PAIR_STEPS: usize = 4_096;
/// Implication steps spent on the whole policy before the shadowing analysis gives up.
const TOTAL_STEPS: usize = 1_000_000;

/// `from` and `until`, as instants (`None`: unbounded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Window {
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

pub(super) fn window(rule: &Rule) -> Option<Window> {
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
pub(super) fn shadowing(rules: &[Analysed<'_>], found: &mut Vec<(usize, Diagnostic)>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::lint::tests::{NOW, codes, lint_at};

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

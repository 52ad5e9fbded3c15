//! `never-matches` for a condition no request satisfies: why, and where.

use super::NEVER;
use super::facts::{Fact, Facts, Key, implied};
use super::normalize::{Leaf, Node};
use crate::policy::ast::Rule;
use crate::policy::lexer::quote;
use crate::policy::{Diagnostic, Span};

/// Why a condition never holds: where, and what contradicts what.
#[derive(Clone, Debug)]
pub(super) struct Contradiction {
    pub(super) span: Option<Span>,
    pub(super) text: String,
}

pub(super) fn never_matches(rule: &Rule, contradiction: &Contradiction) -> Diagnostic {
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
pub(super) fn contradiction(node: &Node<'_>) -> Option<Contradiction> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::lint::tests::{NOW, condition_codes, lint_at};

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
}

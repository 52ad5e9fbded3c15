//! Normalised conditions: `not` pushed down to the comparisons, nested `and` and `or`
//! flattened, the facts of each conjunction gathered.

use std::borrow::Cow;

use super::comparison::leaf_fact;
use super::facts::{Fact, Facts, Key, add_fact};
use crate::policy::Span;
use crate::policy::ast::Condition;
use crate::policy::pretty::condition_text;

/// A condition with `not` pushed down to the comparisons.
#[derive(Clone, Debug)]
pub(super) enum Node<'a> {
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
    pub(super) fn as_leaf(&self) -> Option<&Leaf<'a>> {
        match self {
            Node::Leaf(leaf) => Some(leaf),
            _ => None,
        }
    }
}

/// A comparison, test or `exists` (negated or not) as a fact on one attribute.
#[derive(Clone, Debug)]
pub(super) struct Leaf<'a> {
    pub(super) key: Key,
    pub(super) fact: Fact,
    condition: &'a Condition,
    negated: bool,
}

impl Leaf<'_> {
    pub(super) fn span(&self) -> Span {
        match self.condition {
            Condition::Cmp(comparison) => comparison.attr.span.to(comparison.value.span),
            Condition::Test(attr) | Condition::Exists(attr) => attr.span,
            _ => Span::default(),
        }
    }

    pub(super) fn text(&self) -> String {
        let text = condition_text(self.condition);
        if self.negated {
            format!("not {text}")
        } else {
            text
        }
    }
}

pub(super) fn normalise(condition: &Condition, negated: bool) -> Node<'_> {
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
            match leaf_fact(condition, negated) {
                Some((key, fact)) => Node::Leaf(Leaf {
                    key,
                    fact,
                    condition,
                    negated,
                }),
                None => Node::Opaque(condition, negated),
            }
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
pub(super) fn facts_of<'n>(node: &'n Node<'_>) -> Cow<'n, Facts> {
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

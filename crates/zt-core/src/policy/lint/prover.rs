//! The prover of the shadowing analysis: whether one normalised condition implies another.

use super::normalize::{Node, facts_of};

/// Sound implication between normalised conditions, within a step budget.
pub(super) struct Prover {
    pub(super) steps: usize,
}

impl Prover {
    /// Whether every request satisfying `a` satisfies `b` (`false` when unsure).
    pub(super) fn implies(&mut self, a: &Node<'_>, b: &Node<'_>) -> bool {
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

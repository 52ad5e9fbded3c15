//! The candidate index of the shadowing analysis: which rules may imply a given one.

use std::collections::{HashMap, HashSet};

use super::Analysed;
use super::facts::{Facts, Key, Values, implied};
use super::normalize::{Node, facts_of};
use super::sets::{SetAtom, SetCons};
use super::strings::{StrAtom, StrCons};

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
pub(super) struct Index {
    postings: HashMap<Token, Vec<usize>>,
}

impl Index {
    pub(super) fn new(rules: &[Analysed<'_>], live: &[usize]) -> Self {
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
    pub(super) fn candidates<'s>(&'s self, broad: &Node<'_>, live: &'s [usize]) -> &'s [usize] {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_cuts_count_characters() {
        assert_eq!(cut("a\u{fc}b", 2), Some("a\u{fc}"));
        assert_eq!(cut("a\u{fc}", 2), Some("a\u{fc}"));
        assert_eq!(cut("a", 2), None);
        assert_eq!(cut("", 0), Some(""));
    }
}

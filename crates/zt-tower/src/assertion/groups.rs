//! Which of the caller's groups an assertion carries.

use std::collections::BTreeSet;

/// Selects the groups an assertion carries, and caps their number so that large group
/// lists do not blow upstream header limits.
///
/// The selected groups are sorted (byte-wise) and deduplicated; when more than
/// [`max`](Self::max) remain, the first `max` are kept and the assertion carries
/// `groups_truncated: true`. The default is [`all`](Self::all) groups, at most
/// [`DEFAULT_MAX`](Self::DEFAULT_MAX).
///
/// ```
/// use zt_tower::assertion::GroupFilter;
///
/// let groups = ["team-b".to_owned(), "staff".to_owned(), "team-a".to_owned()];
/// let (kept, truncated) = GroupFilter::prefix("team-").apply(&groups);
/// assert_eq!((kept, truncated), (vec!["team-a", "team-b"], false));
/// let (kept, truncated) = GroupFilter::all().max(1).apply(&groups);
/// assert_eq!((kept, truncated), (vec!["staff"], true));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupFilter {
    select: Select,
    max: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Select {
    All,
    None,
    Allow(BTreeSet<String>),
    Prefixes(Vec<String>),
}

impl Default for GroupFilter {
    fn default() -> Self {
        Self::all()
    }
}

impl GroupFilter {
    /// The default cap on the number of groups in one assertion.
    pub const DEFAULT_MAX: usize = 64;

    fn new(select: Select) -> Self {
        Self {
            select,
            max: Self::DEFAULT_MAX,
        }
    }

    /// Every group.
    pub fn all() -> Self {
        Self::new(Select::All)
    }

    /// No groups: the assertion carries no `groups` claim.
    pub fn none() -> Self {
        Self::new(Select::None)
    }

    /// Only the named groups (exact, case-sensitive match).
    pub fn allow<I, G>(groups: I) -> Self
    where
        I: IntoIterator<Item = G>,
        G: Into<String>,
    {
        Self::new(Select::Allow(groups.into_iter().map(Into::into).collect()))
    }

    /// Only groups whose name starts with `prefix` (case-sensitive).
    pub fn prefix(prefix: impl Into<String>) -> Self {
        Self::prefixes([prefix])
    }

    /// Only groups whose name starts with one of `prefixes` (case-sensitive).
    pub fn prefixes<I, P>(prefixes: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        Self::new(Select::Prefixes(
            prefixes.into_iter().map(Into::into).collect(),
        ))
    }

    /// At most `max` groups (default [`DEFAULT_MAX`](Self::DEFAULT_MAX)).
    #[must_use]
    pub fn max(mut self, max: usize) -> Self {
        self.max = max;
        self
    }

    /// The groups to carry, sorted and deduplicated, and whether the cap cut the list.
    pub fn apply<'g>(&self, groups: &'g [String]) -> (Vec<&'g str>, bool) {
        let keep = |group: &&'g String| match &self.select {
            Select::All => true,
            Select::None => false,
            Select::Allow(allowed) => allowed.contains(group.as_str()),
            Select::Prefixes(prefixes) => prefixes.iter().any(|p| group.starts_with(p.as_str())),
        };
        let mut kept: Vec<&str> = groups.iter().filter(keep).map(String::as_str).collect();
        kept.sort_unstable();
        kept.dedup();
        let truncated = kept.len() > self.max;
        kept.truncate(self.max);
        (kept, truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|&n| n.to_owned()).collect()
    }

    #[test]
    fn selects_all_none_allowed_or_prefixed_groups_sorted() {
        let g = groups(&["ops", "dev", "team-x", "ops", "Team-y", "team-a"]);
        assert_eq!(
            GroupFilter::all().apply(&g),
            (vec!["Team-y", "dev", "ops", "team-a", "team-x"], false)
        );
        assert_eq!(GroupFilter::none().apply(&g), (vec![], false));
        assert_eq!(
            GroupFilter::allow(["ops", "missing", "team-x"]).apply(&g),
            (vec!["ops", "team-x"], false)
        );
        assert_eq!(
            GroupFilter::prefix("team-").apply(&g),
            (vec!["team-a", "team-x"], false)
        );
        assert_eq!(
            GroupFilter::prefixes(["team-", "d"]).apply(&g),
            (vec!["dev", "team-a", "team-x"], false)
        );
        assert_eq!(GroupFilter::default(), GroupFilter::all());
    }

    #[test]
    fn caps_the_count_after_sorting() {
        let g: Vec<String> = (0..100).rev().map(|i| format!("g{i:03}")).collect();
        let (kept, truncated) = GroupFilter::all().apply(&g);
        assert!(truncated);
        assert_eq!(kept.len(), GroupFilter::DEFAULT_MAX);
        assert_eq!(kept.first(), Some(&"g000"));
        assert_eq!(kept.last(), Some(&"g063"));

        let (kept, truncated) = GroupFilter::prefix("g09").max(10).apply(&g);
        assert_eq!((kept.len(), truncated), (10, false));
        let (kept, truncated) = GroupFilter::prefix("g09").max(9).apply(&g);
        assert_eq!((kept.len(), truncated), (9, true));
        // Duplicates do not count against the cap.
        let dup = groups(&["a", "a", "b"]);
        assert_eq!(
            GroupFilter::all().max(2).apply(&dup),
            (vec!["a", "b"], false)
        );
    }
}

//! Route matching: a request's host and (normalised) path pick one route.
//!
//! Among the routes whose host pattern matches, the most specific host wins (an exact
//! name before `*.example.com` before `*`), then the longest path prefix; a prefix matches
//! at segment boundaries only (`/api` matches `/api` and `/api/x`, not `/apix`).

use std::fmt;

/// The hosts a route serves.
#[derive(Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Any host.
    Any,
    /// Exactly this name (lower-case, no port, no trailing dot).
    Exact(String),
    /// One or more labels followed by this suffix (stored with its leading dot).
    Wildcard(String),
}

impl HostPattern {
    /// Parses `*`, `*.example.com` or `app.example.com` (case-insensitive).
    ///
    /// # Errors
    /// Why the text is not a host pattern.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim_end_matches('.').to_ascii_lowercase();
        if text == "*" {
            return Ok(Self::Any);
        }
        let (wildcard, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let valid = !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(
                "expected a host name, `*.domain` or `*` (no port; the port is ignored)".into(),
            );
        }
        Ok(if wildcard {
            Self::Wildcard(format!(".{name}"))
        } else {
            Self::Exact(name.to_owned())
        })
    }

    /// Whether `host` (already lower-cased, without port) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(name) => host == name,
            Self::Wildcard(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
        }
    }

    /// Higher is more specific.
    fn rank(&self) -> u8 {
        match self {
            Self::Any => 0,
            Self::Wildcard(_) => 1,
            Self::Exact(_) => 2,
        }
    }
}

impl fmt::Debug for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Exact(name) => f.write_str(name),
            Self::Wildcard(suffix) => write!(f, "*{suffix}"),
        }
    }
}

/// Whether `path` is under `prefix` at a segment boundary.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Picks, among `candidates` (host pattern, path prefix, case-insensitive), the index of
/// the route for `host` and `path`: most specific host, then longest prefix, then first.
pub fn best_match<'a>(
    candidates: impl IntoIterator<Item = (&'a HostPattern, &'a str, bool)>,
    host: &str,
    path: &str,
) -> Option<usize> {
    let mut best: Option<(usize, u8, usize)> = None;
    let mut lowered: Option<String> = None;
    for (index, (pattern, prefix, case_insensitive)) in candidates.into_iter().enumerate() {
        if !pattern.matches(host) {
            continue;
        }
        let matched = if case_insensitive {
            let lower = lowered.get_or_insert_with(|| path.to_ascii_lowercase());
            prefix_matches(prefix, lower)
        } else {
            prefix_matches(prefix, path)
        };
        if !matched {
            continue;
        }
        let key = (pattern.rank(), prefix.len());
        if best.is_none_or(|(_, rank, len)| key > (rank, len)) {
            best = Some((index, key.0, key.1));
        }
    }
    best.map(|(index, _, _)| index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let exact = HostPattern::parse("App.Example.com.").unwrap();
        assert!(exact.matches("app.example.com"));
        assert!(!exact.matches("x.app.example.com"));
        let wild = HostPattern::parse("*.example.com").unwrap();
        assert!(wild.matches("a.example.com"));
        assert!(wild.matches("a.b.example.com"));
        assert!(!wild.matches("example.com"));
        assert!(!wild.matches("badexample.com"));
        assert!(HostPattern::parse("*").unwrap().matches("anything"));
        assert!(HostPattern::parse("a b").is_err());
        assert!(HostPattern::parse("app.example.com:443").is_err());
        assert!(HostPattern::parse("").is_err());
    }

    #[test]
    fn prefixes_match_at_segment_boundaries() {
        assert!(prefix_matches("/", "/anything"));
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api", "/api/v1"));
        assert!(!prefix_matches("/api", "/apix"));
        assert!(prefix_matches("/api/", "/api/v1"));
        assert!(!prefix_matches("/api/", "/api"));
    }

    #[test]
    fn most_specific_route_wins() {
        let any = HostPattern::Any;
        let wild = HostPattern::parse("*.example.com").unwrap();
        let exact = HostPattern::parse("app.example.com").unwrap();
        let routes = [
            (&any, "/", false),
            (&wild, "/", false),
            (&exact, "/", false),
            (&exact, "/admin", false),
            (&exact, "/ci", true),
        ];
        assert_eq!(best_match(routes, "app.example.com", "/x"), Some(2));
        assert_eq!(best_match(routes, "app.example.com", "/admin/x"), Some(3));
        assert_eq!(best_match(routes, "b.example.com", "/admin"), Some(1));
        assert_eq!(best_match(routes, "other.org", "/"), Some(0));
        assert_eq!(best_match(routes, "app.example.com", "/CI/x"), Some(4));
        assert_eq!(
            best_match(routes[1..2].iter().copied(), "other.org", "/"),
            None
        );
    }
}

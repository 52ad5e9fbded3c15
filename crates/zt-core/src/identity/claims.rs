//! Claim paths: naming a claim, possibly nested, in a token's claims.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A claim name or a dotted path into nested claims, e.g. `groups` or `realm_access.roles`.
///
/// A claim whose own name contains dots (such as `https://example.com/groups`) is found
/// by its full name first; only when no such claim exists is the path split at dots.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClaimPath(String);

impl ClaimPath {
    /// A path from its dotted form.
    pub fn new(path: impl Into<String>) -> Self {
        Self(path.into())
    }

    /// The dotted form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value at this path, if present.
    pub fn lookup<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a Value> {
        if let Some(value) = claims.get(&self.0) {
            return Some(value);
        }
        let mut segments = self.0.split('.');
        let mut current = claims.get(segments.next()?)?;
        for segment in segments {
            current = current.as_object()?.get(segment)?;
        }
        Some(current)
    }

    /// The string at this path; `Err` if present with another type.
    pub(crate) fn string(&self, claims: &Map<String, Value>) -> Result<Option<String>, ()> {
        match self.lookup(claims) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(()),
        }
    }

    /// Strings at this path: one string or an array of strings; `Err` for other types.
    pub(crate) fn strings(&self, claims: &Map<String, Value>) -> Result<Vec<String>, ()> {
        match self.lookup(claims) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned).ok_or(()))
                .collect(),
            Some(_) => Err(()),
        }
    }
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ClaimPath {
    fn from(path: &str) -> Self {
        Self::new(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("test claims are objects"),
        }
    }

    #[test]
    fn finds_top_level_nested_and_dotted_names() {
        let c = claims(json!({
            "groups": ["a", "b"],
            "realm_access": {"roles": ["admin"]},
            "https://example.com/team": "blue",
        }));
        assert_eq!(
            ClaimPath::from("groups").strings(&c),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            ClaimPath::from("realm_access.roles").strings(&c),
            Ok(vec!["admin".into()])
        );
        assert_eq!(
            ClaimPath::from("https://example.com/team").string(&c),
            Ok(Some("blue".into()))
        );
        assert_eq!(
            ClaimPath::from("realm_access.missing").strings(&c),
            Ok(vec![])
        );
    }

    #[test]
    fn wrong_types_are_errors() {
        let c = claims(json!({"groups": [1, 2], "email": 7}));
        assert!(ClaimPath::from("groups").strings(&c).is_err());
        assert!(ClaimPath::from("email").string(&c).is_err());
    }
}

//! `application/x-www-form-urlencoded` parameters (query strings and form bodies).

use std::collections::HashMap;

/// Parsed parameters. Empty values count as absent (RFC 6749 §3.1); a repeated
/// parameter is an error (RFC 6749 §3.1, §3.2).
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(HashMap<String, String>);

/// A parameter appeared more than once.
#[derive(Debug)]
pub(crate) struct DuplicateParam(pub(crate) String);

impl Params {
    pub(crate) fn parse(input: &[u8]) -> Result<Params, DuplicateParam> {
        let mut map = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(input) {
            if v.is_empty() {
                continue;
            }
            if map.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(DuplicateParam(k.into_owned()));
            }
        }
        Ok(Params(map))
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space), as used
/// inside `client_secret_basic` credentials (RFC 6749 §2.3.1).
pub(crate) fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_duplicates() {
        let p = Params::parse(b"a=1&b=&c=x+y%21").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y!"));
        assert!(Params::parse(b"a=1&a=2").is_err());
    }

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a%3Ab+c"), "a:b c");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%4"), "%4");
        assert_eq!(form_decode("%41"), "A");
        assert_eq!(form_decode("x%zz"), "x%zz");
    }
}

//! The return URL after login: only a local path, never another site.

/// The longest return URL kept; longer ones become `/`.
pub const MAX_RETURN_TO: usize = 2048;

/// The return URL to use for `rd`: `rd` itself when it is a safe local path, `/` otherwise.
///
/// A safe local path starts with exactly one `/`, has only visible ASCII characters (no
/// control characters, spaces or backslashes, which some browsers treat as `/`), is not
/// scheme- or protocol-relative (`//host`, `/\host`) and is at most [`MAX_RETURN_TO`]
/// bytes. This keeps the login routes from being an open redirect.
///
/// ```
/// use zt_tower::login::safe_return_to;
///
/// assert_eq!(safe_return_to("/reports?q=1#top"), "/reports?q=1#top");
/// assert_eq!(safe_return_to("//evil.example"), "/");
/// assert_eq!(safe_return_to("https://evil.example/"), "/");
/// assert_eq!(safe_return_to("/\\evil.example"), "/");
/// ```
#[must_use]
pub fn safe_return_to(rd: &str) -> &str {
    if is_safe(rd) { rd } else { "/" }
}

fn is_safe(rd: &str) -> bool {
    let bytes = rd.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_RETURN_TO || bytes[0] != b'/' {
        return false;
    }
    if matches!(bytes.get(1), Some(b'/' | b'\\')) {
        return false;
    }
    if !bytes.iter().all(|&b| b.is_ascii_graphic() && b != b'\\') {
        return false;
    }
    // Belt and braces: resolved against a base, it must stay on that base's origin.
    let Ok(base) = url::Url::parse("http://zt.invalid/") else {
        return false;
    };
    match base.join(rd) {
        Ok(joined) => joined.origin() == base.origin(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_local_paths() {
        for ok in [
            "/",
            "/me",
            "/a/b?x=1&y=%2F%2F",
            "/a%20b#frag",
            "/.zt/userinfo",
            "/a//b",
        ] {
            assert_eq!(safe_return_to(ok), ok);
        }
    }

    #[test]
    fn refuses_other_sites() {
        for bad in [
            "",
            "//evil.example",
            "//evil.example/path",
            "/\\evil.example",
            "\\\\evil.example",
            "\\/evil.example",
            "https://evil.example",
            "http:evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/\u{7f}",
            "/caf\u{e9}",
            "/a\\b",
            " /me",
        ] {
            assert_eq!(safe_return_to(bad), "/", "{bad:?}");
        }
        let long = format!("/{}", "a".repeat(MAX_RETURN_TO));
        assert_eq!(safe_return_to(&long), "/");
    }

    proptest! {
        #[test]
        fn result_never_leaves_the_origin(rd in ".{0,64}") {
            let out = safe_return_to(&rd);
            let base = url::Url::parse("https://app.example/x/").unwrap();
            let joined = base.join(out).unwrap();
            prop_assert_eq!(joined.origin(), base.origin());
            prop_assert!(out.starts_with('/') && !out.starts_with("//"));
        }
    }
}

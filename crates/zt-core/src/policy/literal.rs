//! Literal checks against attribute types (docs/policy.md, sections 2, 4 and 5).

use std::net::IpAddr;

use jiff::Timestamp;
use jiff::civil::Date;

/// Weekday names, Monday first.
pub(crate) const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// Longest regex pattern, in bytes.
const MAX_REGEX: usize = 4096;
/// Compiled size limits of a regex.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Longest glob, in bytes, and most wildcards in it.
const MAX_GLOB: usize = 1024;
const MAX_WILDCARDS: usize = 16;

/// A literal problem: message and optional hint.
pub(crate) type Problem = (String, Option<String>);

/// A weekday name, or a message with a suggestion.
pub(crate) fn weekday(name: &str) -> Result<usize, Problem> {
    if let Some(index) = WEEKDAYS.iter().position(|day| *day == name) {
        return Ok(index);
    }
    let prefix: String = name
        .chars()
        .take(3)
        .collect::<String>()
        .to_ascii_lowercase();
    let suggestion = WEEKDAYS
        .iter()
        .find(|day| **day == prefix)
        .map_or(String::new(), |day| format!("did you mean `{day}`? "));
    Err((
        format!("`{name}` is not a weekday"),
        Some(format!(
            "{suggestion}Weekdays are `mon` `tue` `wed` `thu` `fri` `sat` `sun`"
        )),
    ))
}

/// Whether `text` has exactly the RFC 3339 shape the reference allows:
/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)`, year 0001 or later, no leap second.
fn rfc3339_shape(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |from: usize, to: usize| {
        b.get(from..to)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let fixed = digits(0, 4)
        && at(4, b'-')
        && digits(5, 7)
        && at(7, b'-')
        && digits(8, 10)
        && at(10, b'T')
        && digits(11, 13)
        && at(13, b':')
        && digits(14, 16)
        && at(16, b':')
        && digits(17, 19)
        && b.get(0..4) != Some(b"0000")
        && b.get(17..19) != Some(b"60");
    if !fixed {
        return false;
    }
    let mut rest = 19;
    if at(rest, b'.') {
        let fraction = b[rest + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if !(1..=9).contains(&fraction) {
            return false;
        }
        rest += 1 + fraction;
    }
    match b.get(rest..) {
        Some(b"Z") => true,
        Some([sign, ..]) if (*sign == b'+' || *sign == b'-') && b.len() == rest + 6 => {
            digits(rest + 1, rest + 3) && at(rest + 3, b':') && digits(rest + 4, rest + 6)
        }
        _ => false,
    }
}

/// An RFC 3339 instant with an offset.
pub(crate) fn instant(text: &str) -> Result<Timestamp, Problem> {
    let strict = rfc3339_shape(text);
    match text.parse::<Timestamp>() {
        Ok(timestamp) if strict => Ok(timestamp),
        _ => Err((
            format!("`{text}` is not an RFC 3339 instant"),
            Some("write e.g. \"2026-11-24T18:00:00Z\" or \"2026-11-24T19:00:00+01:00\"".into()),
        )),
    }
}

/// A `YYYY-MM-DD` date.
pub(crate) fn date(text: &str) -> Result<Date, Problem> {
    match (text.len(), text.parse::<Date>()) {
        (10, Ok(date)) => Ok(date),
        _ => Err((
            format!("`{text}` is not a date"),
            Some("write `\"YYYY-MM-DD\"`, e.g. \"2026-12-24\"".into()),
        )),
    }
}

/// An IP address as written in policies: no IPv4-mapped IPv6.
pub(crate) fn address(text: &str) -> Result<IpAddr, Problem> {
    let address: IpAddr = text
        .parse()
        .map_err(|_| (format!("`{text}` is not an IP address"), None))?;
    if let IpAddr::V6(v6) = address
        && let Some(v4) = v6.to_ipv4_mapped()
    {
        return Err((
            format!("`{text}` is an IPv4-mapped IPv6 address"),
            Some(format!(
                "write the IPv4 form \"{v4}\"; request addresses are normalised the same way"
            )),
        ));
    }
    Ok(address)
}

/// A CIDR with no bits set after the prefix, or a plain address (a /32 or /128).
pub(crate) fn network(text: &str) -> Result<(IpAddr, u8), Problem> {
    let Some((addr, prefix)) = text.split_once('/') else {
        let address = address(text)?;
        return Ok((address, if address.is_ipv4() { 32 } else { 128 }));
    };
    let address = address(addr)?;
    let width = if address.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = Some(prefix)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|p| p.parse().ok())
        .filter(|p| u32::from(*p) <= width)
        .ok_or_else(|| {
            (
                format!("`{text}` has an invalid prefix length"),
                Some(format!("0 to {width}")),
            )
        })?;
    let masked = mask(address, prefix);
    if masked != address {
        return Err((
            format!("`{text}` has bits set after the prefix length"),
            Some(format!("did you mean \"{masked}/{prefix}\"?")),
        ));
    }
    Ok((address, prefix))
}

fn mask(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & mask).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & mask).into())
        }
    }
}

/// A regex that compiles, anchored, within the limits.
pub(crate) fn regex(pattern: &str) -> Result<regex::Regex, Problem> {
    if pattern.len() > MAX_REGEX {
        return Err((format!("a regex is at most {MAX_REGEX} bytes"), None));
    }
    // The pattern must be valid on its own, so that wrapping it cannot change its meaning
    // (`a)|(?:b` would otherwise escape the anchors).
    compile(pattern)?;
    compile(&format!(r"\A(?:{pattern})\z"))
}

fn compile(pattern: &str) -> Result<regex::Regex, Problem> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(64)
        .build()
        .map_err(|error| {
            let detail = error.to_string();
            let first = detail
                .lines()
                .last()
                .unwrap_or("invalid pattern")
                .trim()
                .to_owned();
            (
                format!("invalid regex: {first}"),
                Some("zt uses the Rust `regex` syntax: no backreferences or look-around".into()),
            )
        })
}

/// A glob: `*`, `**`, `?`, escapes `\*` `\?` `\\`; no `***`; bounded size.
pub(crate) fn glob(text: &str) -> Result<(), Problem> {
    if text.len() > MAX_GLOB {
        return Err((format!("a glob is at most {MAX_GLOB} bytes"), None));
    }
    let mut wildcards = 0;
    let mut chars = text.chars().peekable();
    let mut stars = 0;
    while let Some(c) = chars.next() {
        if c == '*' {
            stars += 1;
            if stars == 3 {
                return Err((
                    "`***` is not a glob item".into(),
                    Some("use `*` or `**`".into()),
                ));
            }
            if stars == 1 {
                wildcards += 1;
            }
            continue;
        }
        stars = 0;
        match c {
            '?' => wildcards += 1,
            '\\' => match chars.next() {
                Some('*' | '?' | '\\') => {}
                _ => {
                    return Err((
                        "unknown glob escape".into(),
                        Some("escapes are `\\*` `\\?` `\\\\`".into()),
                    ));
                }
            },
            _ => {}
        }
    }
    if wildcards > MAX_WILDCARDS {
        return Err((
            format!("a glob has at most {MAX_WILDCARDS} wildcards"),
            None,
        ));
    }
    Ok(())
}

/// Host literals are ASCII without upper-case letters.
pub(crate) fn host(text: &str) -> Result<(), Problem> {
    if text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Ok(());
    }
    Err((
        format!("host literal `{text}` must be lower-case ASCII"),
        Some(if text.is_ascii() {
            format!("write \"{}\"", text.to_ascii_lowercase())
        } else {
            "write internationalised names as A-labels (`xn--...`)".into()
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(weekday("fri"), Ok(4));
        assert!(
            weekday("friday")
                .unwrap_err()
                .1
                .unwrap()
                .starts_with("did you mean `fri`?")
        );
        assert!(instant("2026-11-24T18:00:00Z").is_ok());
        assert!(instant("2026-11-24T19:00:00+01:00").is_ok());
        assert!(instant("2026-11-24 18:00:00Z").is_err());
        assert!(instant("2026-11-24").is_err());
        for bad in [
            "2026-11-24T18:00:60Z",
            "2026-11-24T18:00+01:00",
            "0000-01-01T00:00:00Z",
            "2026-11-24t18:00:00z",
            "2026-11-24T18:00:00.Z",
        ] {
            assert!(instant(bad).is_err(), "{bad}");
        }
        assert!(instant("2026-11-24T18:00:00.123456789-05:30").is_ok());
        assert!(regex("a)|(?:b").is_err());
        assert!(network("10.0.0.0/+8").is_err());
        assert!(date("2026-02-29").is_err());
        assert!(date("2028-02-29").is_ok());
        assert_eq!(
            network("10.1.0.0/8").unwrap_err().1.as_deref(),
            Some("did you mean \"10.0.0.0/8\"?")
        );
        assert!(network("10.0.0.0/8").is_ok());
        assert!(network("2001:db8::/32").is_ok());
        assert!(network("::ffff:10.0.0.1").is_err());
        assert!(network("10.0.0.0/33").is_err());
        assert!(network("10.0.0.7").is_ok());
        assert!(regex(r"\/v[0-9]+").is_ok());
        assert!(regex(r"(a)\1").is_err());
        assert!(regex(r"(?=a)").is_err());
        assert!(glob("**.prod.internal").is_ok());
        assert!(glob("***").is_err());
        assert!(glob(r"\x").is_err());
        assert!(host("web.example.com").is_ok());
        assert!(host("Web.example.com").is_err());
    }
}

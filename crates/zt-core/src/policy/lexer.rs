//! Tokens of the policy language (docs/policy.md, section 2).

use super::diagnostic::{MAX_DIAGNOSTICS, push_limited};
use super::{Diagnostic, Span};

/// Longest bare word.
const MAX_WORD: usize = 128;
/// Longest attribute segment.
pub(crate) const MAX_SEGMENT: usize = 256;
/// Most segments of an attribute (`identity.claims` and 8 more).
pub(crate) const MAX_SEGMENTS: usize = 10;
/// Longest decoded string literal.
pub(crate) const MAX_STRING: usize = 8192;
/// Largest duration, in seconds (100 x 365 days).
pub(crate) const MAX_DURATION: u64 = 3_153_600_000;

/// A token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Token {
    /// A bare word: keyword, weekday or name.
    Word(String),
    /// `a.b.c` (at least two segments).
    Attr(Vec<String>),
    Str(String),
    Int(i64),
    Duration(u64),
    Regex(String),
    Comment(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    DotDot,
    Op(&'static str),
}

/// Splits `source` into tokens, reporting lexical errors (the bad text is skipped).
pub(crate) fn tokenize(source: &str, diagnostics: &mut Vec<Diagnostic>) -> Vec<(Token, Span)> {
    let mut lexer = Lexer {
        source,
        bytes: source.as_bytes(),
        pos: 0,
        diagnostics,
        scratch: Diagnostic::error("syntax", Span::default(), String::new()),
    };
    let mut tokens = Vec::new();
    if source.starts_with('\u{feff}') {
        lexer.pos = '\u{feff}'.len_utf8();
    }
    while let Some(token) = lexer.next_token() {
        tokens.push(token);
    }
    tokens
}

struct Lexer<'s, 'd> {
    source: &'s str,
    bytes: &'s [u8],
    pos: usize,
    diagnostics: &'d mut Vec<Diagnostic>,
    /// Where errors past the diagnostics limit go.
    scratch: Diagnostic,
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Whether `text` is a word: `[A-Za-z_][A-Za-z0-9_-]*`.
pub(crate) fn is_word(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes.next().is_some_and(is_word_start) && bytes.all(is_word_char)
}

/// Whether `text` is a bare attribute segment: `[A-Za-z0-9_][A-Za-z0-9_-]*`.
pub(crate) fn is_segment(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_digit() || is_word_start(b))
        && bytes.all(is_word_char)
}

/// Characters refused anywhere: controls other than tab/LF/CR, and bidi controls.
pub(crate) fn is_forbidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

impl Lexer<'_, '_> {
    /// Reports a syntax error and returns it so a hint can be added. Past the diagnostics
    /// limit the error goes to a scratch slot and is dropped (the limit note says so).
    fn error(&mut self, start: usize, end: usize, message: impl Into<String>) -> &mut Diagnostic {
        let diagnostic = Diagnostic::error("syntax", Span::new(start, end), message);
        let before = self.diagnostics.len();
        push_limited(self.diagnostics, diagnostic.clone());
        if self.diagnostics.len() > before && before < MAX_DIAGNOSTICS {
            let last = self.diagnostics.len() - 1;
            &mut self.diagnostics[last]
        } else {
            self.scratch = diagnostic;
            &mut self.scratch
        }
    }

    /// Reports an input limit.
    fn limit(&mut self, span: Span, message: impl Into<String>) {
        push_limited(self.diagnostics, Diagnostic::error("limit", span, message));
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    fn next_token(&mut self) -> Option<(Token, Span)> {
        loop {
            let start = self.pos;
            let c = self.source[self.pos..].chars().next()?;
            if matches!(c, ' ' | '\t' | '\n' | '\r') {
                self.pos += 1;
                continue;
            }
            if is_forbidden(c) || (c.is_whitespace() && !c.is_ascii()) {
                self.pos += c.len_utf8();
                let what = if c.is_whitespace() {
                    "a non-ASCII space"
                } else {
                    "a control character"
                };
                self.error(
                    start,
                    self.pos,
                    format!("{what} (U+{:04X}) is not allowed here", u32::from(c)),
                )
                .hint = Some("write it as a `\\u{...}` escape inside a string".into());
                continue;
            }
            let token = match c {
                '#' => self.comment(),
                '"' => match self.string() {
                    Some(text) => Token::Str(text),
                    None => continue,
                },
                '/' => match self.regex() {
                    Some(text) => Token::Regex(text),
                    None => continue,
                },
                '(' => self.punct(Token::LParen, 1),
                ')' => self.punct(Token::RParen, 1),
                '[' => self.punct(Token::LBracket, 1),
                ']' => self.punct(Token::RBracket, 1),
                ',' => self.punct(Token::Comma, 1),
                '~' => self.punct(Token::Op("~"), 1),
                '.' if self.peek_at(1) == Some(b'.') => self.punct(Token::DotDot, 2),
                '=' if self.peek_at(1) == Some(b'=') => self.punct(Token::Op("=="), 2),
                '!' if self.peek_at(1) == Some(b'=') => self.punct(Token::Op("!="), 2),
                '<' if self.peek_at(1) == Some(b'=') => self.punct(Token::Op("<="), 2),
                '>' if self.peek_at(1) == Some(b'=') => self.punct(Token::Op(">="), 2),
                '<' => self.punct(Token::Op("<"), 1),
                '>' => self.punct(Token::Op(">"), 1),
                '-' | '0'..='9' => match self.number() {
                    Some(token) => token,
                    None => continue,
                },
                c if c.is_ascii() && is_word_start(c as u8) => match self.word_or_attr() {
                    Some(token) => token,
                    None => continue,
                },
                _ => {
                    self.pos += c.len_utf8();
                    let hint = match c {
                        '=' => Some("compare with `==`"),
                        '&' => Some("write `and`"),
                        '|' => Some("write `or`"),
                        '!' => Some("write `not`"),
                        '\'' => Some("strings are written in double quotes"),
                        _ => None,
                    };
                    let diagnostic =
                        self.error(start, self.pos, format!("unexpected character `{c}`"));
                    diagnostic.hint = hint.map(str::to_owned);
                    continue;
                }
            };
            return Some((token, Span::new(start, self.pos)));
        }
    }

    fn punct(&mut self, token: Token, len: usize) -> Token {
        self.pos += len;
        token
    }

    fn comment(&mut self) -> Token {
        self.pos += 1;
        let start = self.pos;
        let end = self.source[start..]
            .find('\n')
            .map_or(self.source.len(), |i| start + i);
        self.pos = end;
        let text = &self.source[start..end];
        if let Some((offset, c)) = text.char_indices().find(|(_, c)| is_forbidden(*c)) {
            let at = start + offset;
            self.error(
                at,
                at + c.len_utf8(),
                format!(
                    "a control character (U+{:04X}) is not allowed here",
                    u32::from(c)
                ),
            );
        }
        Token::Comment(text.trim_end().to_owned())
    }

    /// A string literal; `None` after reporting an error (the literal is skipped).
    pub(crate) fn string(&mut self) -> Option<String> {
        let start = self.pos;
        self.pos += 1;
        let mut text = String::new();
        let mut ok = true;
        loop {
            let Some(c) = self.source[self.pos..].chars().next() else {
                self.error(start, self.pos, "unterminated string");
                return None;
            };
            let at = self.pos;
            self.pos += c.len_utf8();
            match c {
                '"' => break,
                '\n' => {
                    self.pos = at;
                    self.error(start, at, "unterminated string").hint =
                        Some("strings are single-line; write a line break as `\\n`".into());
                    return None;
                }
                '\\' => match self.escape(at) {
                    Some(decoded) => text.push(decoded),
                    None => ok = false,
                },
                c if is_forbidden(c) => {
                    self.error(
                        at,
                        self.pos,
                        format!(
                            "a control character (U+{:04X}) must be written as an escape",
                            u32::from(c)
                        ),
                    );
                    ok = false;
                }
                c => text.push(c),
            }
        }
        if text.len() > MAX_STRING {
            self.limit(
                Span::new(start, self.pos),
                format!("string literal is longer than {MAX_STRING} bytes"),
            );
            return None;
        }
        ok.then_some(text)
    }

    fn escape(&mut self, at: usize) -> Option<char> {
        let c = self.source[self.pos..].chars().next();
        if let Some(c) = c {
            self.pos += c.len_utf8();
        }
        match c {
            Some('"') => Some('"'),
            Some('\\') => Some('\\'),
            Some('n') => Some('\n'),
            Some('r') => Some('\r'),
            Some('t') => Some('\t'),
            Some('u') => {
                let rest = &self.source[self.pos..];
                // `{` hex digits `}`: the digits are what lies between the braces.
                // Look at most 8 bytes ahead, so `\u{` runs cannot make lexing quadratic.
                let digits = rest.strip_prefix('{').and_then(|inside| {
                    let window = &inside.as_bytes()[..inside.len().min(8)];
                    window
                        .iter()
                        .position(|b| *b == b'}')
                        .map(|end| &inside[..end])
                });
                let close = digits.map(|d| d.len() + 1);
                let decoded = digits
                    .filter(|d| {
                        (1..=6).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_hexdigit())
                    })
                    .and_then(|d| u32::from_str_radix(d, 16).ok())
                    .and_then(char::from_u32);
                match (decoded, close) {
                    (Some(decoded), Some(close)) => {
                        self.pos += close + 1;
                        Some(decoded)
                    }
                    _ => {
                        self.error(at, self.pos, "invalid `\\u{...}` escape").hint = Some(
                            "1 to 6 hex digits naming a Unicode scalar value, e.g. `\\u{e9}`"
                                .into(),
                        );
                        None
                    }
                }
            }
            _ => {
                self.error(at, self.pos, "unknown escape").hint =
                    Some("escapes are `\\\"` `\\\\` `\\n` `\\r` `\\t` `\\u{...}`".into());
                None
            }
        }
    }

    fn regex(&mut self) -> Option<String> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                None | Some(b'\n') => {
                    self.error(start, self.pos, "unterminated regex").hint =
                        Some("a regex is written `/pattern/` on one line".into());
                    return None;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    if let Some(c) = self.source[self.pos..]
                        .chars()
                        .next()
                        .filter(|c| *c != '\n')
                    {
                        self.pos += c.len_utf8();
                    }
                }
                Some(b'/') => break,
                Some(_) => {
                    let c = self.source[self.pos..].chars().next()?;
                    if is_forbidden(c) {
                        self.error(
                            self.pos,
                            self.pos + c.len_utf8(),
                            "a control character is not allowed in a regex",
                        );
                    }
                    self.pos += c.len_utf8();
                }
            }
        }
        let text = self.source[start + 1..self.pos].to_owned();
        self.pos += 1;
        if text.is_empty() {
            self.error(start, self.pos, "empty regex");
            return None;
        }
        Some(text)
    }

    /// An integer or a duration.
    fn number(&mut self) -> Option<Token> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.error(start, self.pos, "unexpected character `-`");
                return None;
            }
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        if !self.peek().is_some_and(is_word_char) {
            return match self.source[start..self.pos].parse::<i64>() {
                Ok(value) => Some(Token::Int(value)),
                Err(_) => {
                    self.limit(Span::new(start, self.pos), "integer out of range");
                    None
                }
            };
        }
        // A duration: `<digits><unit>` groups, units d h m s in order, each at most once.
        while self.peek().is_some_and(is_word_char) {
            self.pos += 1;
        }
        let text = &self.source[start..self.pos];
        match parse_duration(text) {
            Some(seconds) if seconds <= MAX_DURATION => Some(Token::Duration(seconds)),
            Some(_) => {
                self.limit(
                    Span::new(start, self.pos),
                    "duration is longer than 100 years",
                );
                None
            }
            None => {
                self.error(start, self.pos, format!("`{text}` is not a number or duration")).hint =
                    Some("durations are written like `90s`, `15m`, `1h30m`, `7d` (units d h m s, in that order)".into());
                None
            }
        }
    }

    fn word_or_attr(&mut self) -> Option<Token> {
        let start = self.pos;
        let first = self.word_segment();
        if first.len() > MAX_WORD {
            self.limit(Span::new(start, self.pos), "word is longer than 128 bytes");
            return None;
        }
        if !(self.peek() == Some(b'.') && self.peek_at(1) != Some(b'.')) {
            return Some(Token::Word(first));
        }
        let mut segments = vec![first];
        while self.peek() == Some(b'.') && self.peek_at(1) != Some(b'.') {
            self.pos += 1;
            let segment_start = self.pos;
            let segment = match self.peek() {
                Some(b'"') => self.string()?,
                Some(b) if b.is_ascii_alphanumeric() || b == b'_' => self.word_segment(),
                _ => {
                    self.error(start, self.pos, "an attribute segment is missing after `.`");
                    return None;
                }
            };
            if segment.is_empty() || segment.len() > MAX_SEGMENT {
                self.limit(
                    Span::new(segment_start, self.pos),
                    "attribute segments are 1 to 256 bytes",
                );
                return None;
            }
            segments.push(segment);
            if segments.len() > MAX_SEGMENTS {
                self.limit(
                    Span::new(start, self.pos),
                    format!("attributes have at most {MAX_SEGMENTS} segments"),
                );
                return None;
            }
        }
        Some(Token::Attr(segments))
    }

    fn word_segment(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_word_char) {
            self.pos += 1;
        }
        self.source[start..self.pos].to_owned()
    }
}

/// Seconds of a duration such as `1h30m`; `None` if malformed.
pub(crate) fn parse_duration(text: &str) -> Option<u64> {
    const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];
    let mut rest = text;
    let mut next_unit = 0;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let value: u64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?;
        let index = UNITS[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
        total = total.checked_add(value.checked_mul(UNITS[index].1)?)?;
        next_unit = index + 1;
        rest = &rest[digits + 1..];
    }
    (!text.is_empty()).then_some(total)
}

/// `text` as a string literal.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_forbidden(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(source: &str) -> (Vec<Token>, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let tokens = tokenize(source, &mut diagnostics)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        (tokens, diagnostics)
    }

    #[test]
    fn tokens_of_a_rule() {
        let (tokens, diagnostics) = lex(
            "allow \"a\" when time.hour in 8..18 and identity.claims.\"https://x/y\" has-any [\"a\",] # c",
        );
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(
            tokens,
            vec![
                Token::Word("allow".into()),
                Token::Str("a".into()),
                Token::Word("when".into()),
                Token::Attr(vec!["time".into(), "hour".into()]),
                Token::Word("in".into()),
                Token::Int(8),
                Token::DotDot,
                Token::Int(18),
                Token::Word("and".into()),
                Token::Attr(vec![
                    "identity".into(),
                    "claims".into(),
                    "https://x/y".into()
                ]),
                Token::Word("has-any".into()),
                Token::LBracket,
                Token::Str("a".into()),
                Token::Comma,
                Token::RBracket,
                Token::Comment(" c".into()),
            ]
        );
    }

    #[test]
    fn literals() {
        assert_eq!(
            lex("\"a\\\"\\u{e9}\\n\"").0,
            vec![Token::Str("a\"é\n".into())]
        );
        assert_eq!(
            lex("1h30m 90s 7d -5 08").0,
            vec![
                Token::Duration(5400),
                Token::Duration(90),
                Token::Duration(604_800),
                Token::Int(-5),
                Token::Int(8)
            ]
        );
        assert_eq!(
            lex(r"/\/healthz/").0,
            vec![Token::Regex(r"\/healthz".into())]
        );
        assert_eq!(
            lex("mon..fri").0,
            vec![
                Token::Word("mon".into()),
                Token::DotDot,
                Token::Word("fri".into())
            ]
        );
    }

    #[test]
    fn lexical_errors_are_reported_and_skipped() {
        // Found by fuzzing: a `}` right after `\u` once sliced backwards.
        assert!(!lex("r in [\"ub!\\u}mentn\"]").1.is_empty());
        for bad in [
            "\"unterminated",
            "\"a\nb\"",
            "\"\\q\"",
            "15min",
            "1m1h",
            "&&",
            "\u{202e}",
            "//",
            "/a\n/",
            "\"\\u{d800}\"",
        ] {
            let (_, diagnostics) = lex(bad);
            assert!(!diagnostics.is_empty(), "{bad:?}");
        }
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("30m1h"), None);
        assert_eq!(parse_duration("1h1h"), None);
    }

    #[test]
    fn quoting_round_trips() {
        for text in ["plain", "a\"b\\c", "line\nbreak\ttab", "\u{202e}x"] {
            let (tokens, diagnostics) = lex(&quote(text));
            assert!(diagnostics.is_empty());
            assert_eq!(tokens, vec![Token::Str(text.into())]);
        }
    }
}

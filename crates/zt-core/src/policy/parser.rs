//! The parser: tokens to AST, with spans, hints and recovery at the next rule
//! (docs/policy.md, section 3).

use super::ast::{
    Attribute, Comparison, Condition, Effect, Literal, Operator, Policy, Rule, Value,
};
use super::diagnostic::push_limited;
use super::lexer::{Token, tokenize};
use super::{Diagnostic, Span};

/// Largest policy source accepted.
pub const MAX_SOURCE_BYTES: usize = 16 * 1024 * 1024;
pub(crate) const MAX_RULES: usize = 100_000;
pub(crate) const MAX_DEPTH: usize = 32;
pub(crate) const MAX_LEAVES: usize = 512;
pub(crate) const MAX_LIST: usize = 10_000;

const KEYWORDS: [&str; 29] = [
    "allow",
    "deny",
    "when",
    "from",
    "until",
    "reason",
    "timezone",
    "and",
    "or",
    "not",
    "in",
    "not-in",
    "has",
    "has-any",
    "has-all",
    "starts_with",
    "ends_with",
    "contains",
    "matches",
    "exists",
    "true",
    "false",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Parses policy text. Returns every rule that parsed and every syntax or limit error;
/// after an error inside a rule, parsing resumes at the next `allow` or `deny`.
pub fn parse(source: &str) -> (Policy, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    if source.len() > MAX_SOURCE_BYTES {
        diagnostics.push(Diagnostic::error(
            "limit",
            Span::new(0, 0),
            format!("the policy is larger than {MAX_SOURCE_BYTES} bytes"),
        ));
        return (Policy::default(), diagnostics);
    }
    let mut tokens = Vec::new();
    let mut comments = Vec::new();
    for (token, span) in tokenize(source, &mut diagnostics) {
        match token {
            Token::Comment(text) => comments.push((text, span)),
            token => tokens.push((token, span)),
        }
    }
    let lexical_errors = diagnostics.iter().map(|d| d.span.start).collect();
    let mut parser = Parser {
        tokens,
        pos: 0,
        end: source.len(),
        depth: 0,
        leaves: 0,
        rule_start: 0,
        header: None,
        lexical_errors,
        diagnostics,
    };
    let mut policy = parser.policy();
    attach_comments(&mut policy, comments);
    (policy, parser.diagnostics)
}

/// A comment before `timezone` belongs to the policy; any other to the next rule (or the
/// rule it sits in); after the last rule, to the trailing comments.
fn attach_comments(policy: &mut Policy, comments: Vec<(String, Span)>) {
    for (text, span) in comments {
        if policy
            .timezone
            .as_ref()
            .is_some_and(|(_, tz)| span.start < tz.start)
        {
            policy.comments.push(text);
        } else if let Some(rule) = {
            // Rules are in source order: the first one ending after the comment.
            let index = policy
                .rules
                .partition_point(|rule| rule.span.end <= span.start);
            policy.rules.get_mut(index)
        } {
            rule.comments.push(text);
        } else {
            policy.trailing_comments.push(text);
        }
    }
}

struct Parser {
    tokens: Vec<(Token, Span)>,
    pos: usize,
    end: usize,
    depth: usize,
    leaves: usize,
    /// Where the rule being parsed starts.
    rule_start: usize,
    /// The id of the rule being parsed, once its header parsed.
    header: Option<(String, Span)>,
    /// Where the lexer reported errors: a syntax error that follows one in the same rule
    /// is a consequence of it and is not reported again.
    lexical_errors: Vec<usize>,
    diagnostics: Vec<Diagnostic>,
}

/// Marks a parse failure already reported as a diagnostic.
struct Reported;

type Parsed<T> = Result<T, Reported>;

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(token, _)| token)
    }

    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Token::Word(word)) => Some(word),
            _ => None,
        }
    }

    fn span(&self) -> Span {
        self.tokens
            .get(self.pos)
            .map_or(Span::new(self.end, self.end), |(_, span)| *span)
    }

    fn previous_end(&self) -> usize {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(0, |(_, span)| span.end)
    }

    fn advance(&mut self) -> Option<(Token, Span)> {
        let token = self.tokens.get(self.pos).cloned();
        if token.is_some() {
            self.pos += 1;
        }
        token
    }

    fn fail<T>(
        &mut self,
        code: &'static str,
        span: Span,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Parsed<T> {
        let follows_lexical_error = self
            .lexical_errors
            .iter()
            .any(|at| (self.rule_start..=span.start).contains(at));
        if !follows_lexical_error {
            let mut diagnostic = Diagnostic::error(code, span, message);
            diagnostic.hint = hint;
            push_limited(&mut self.diagnostics, diagnostic);
        }
        Err(Reported)
    }

    fn unexpected<T>(&mut self, expected: &str) -> Parsed<T> {
        let span = self.span();
        let found = match self.peek() {
            None => "the end of the policy".to_owned(),
            Some(token) => describe(token),
        };
        self.fail(
            "syntax",
            span,
            format!("expected {expected}, found {found}"),
            None,
        )
    }

    fn policy(&mut self) -> Policy {
        let mut policy = Policy::default();
        if self.peek_word() == Some("timezone") {
            self.advance();
            match self.advance() {
                Some((Token::Str(name), span)) => policy.timezone = Some((name, span)),
                _ => {
                    self.pos -= 1;
                    let _ =
                        self.unexpected::<()>("a quoted timezone name such as \"Europe/Berlin\"");
                    self.recover();
                }
            }
        }
        while let Some(token) = self.peek() {
            let span = self.span();
            match token {
                Token::Word(word) if word == "allow" || word == "deny" => {
                    self.header = None;
                    let parsed = self.rule();
                    if let (Err(Reported), Some(header)) = (&parsed, self.header.take()) {
                        policy.failed_headers.push(header);
                    }
                    if let Ok(rule) = parsed {
                        if policy.rules.len() == MAX_RULES {
                            let _ = self.fail::<()>(
                                "limit",
                                rule.span,
                                format!("more than {MAX_RULES} rules"),
                                None,
                            );
                            return policy;
                        }
                        policy.rules.push(rule);
                    } else {
                        self.recover();
                    }
                }
                Token::Word(word) if word == "timezone" => {
                    let _ = self.fail::<()>(
                        "syntax",
                        span,
                        "`timezone` must come first, at most once",
                        Some("move it to the top of the policy".into()),
                    );
                    self.advance();
                    self.recover();
                }
                _ => {
                    let _ = self.unexpected::<()>("`allow` or `deny`");
                    self.advance();
                    self.recover();
                }
            }
        }
        policy
    }

    /// Skips to the next `allow` or `deny`.
    fn recover(&mut self) {
        while let Some(token) = self.peek() {
            if matches!(token, Token::Word(word) if word == "allow" || word == "deny") {
                return;
            }
            self.pos += 1;
        }
    }

    fn rule(&mut self) -> Parsed<Rule> {
        let (effect_token, start) = self.advance().ok_or(Reported)?;
        self.rule_start = start.start;
        let effect = match effect_token {
            Token::Word(word) if word == "deny" => Effect::Deny,
            _ => Effect::Allow,
        };
        let (id, id_span) = self.string("a quoted rule id")?;
        self.header = Some((id.clone(), id_span));
        let mut clause_spans = [Span::default(); 3];
        let mut from = None;
        let mut until = None;
        let mut reason = None;
        if self.peek_word() == Some("from") {
            self.advance();
            let (value, span) = self.string("a quoted RFC 3339 instant")?;
            from = Some(value);
            clause_spans[0] = span;
        }
        if self.peek_word() == Some("until") {
            self.advance();
            let (value, span) = self.string("a quoted RFC 3339 instant")?;
            until = Some(value);
            clause_spans[1] = span;
        }
        if self.peek_word() == Some("reason") {
            let keyword = self.span();
            self.advance();
            let (value, span) = self.string("a quoted reason")?;
            if effect == Effect::Allow {
                return self.fail(
                    "syntax",
                    keyword,
                    "`reason` is only allowed on deny rules",
                    Some("an allow rule explains itself by its id".into()),
                );
            }
            reason = Some(value);
            clause_spans[2] = span;
        }
        if self.peek_word() != Some("when") {
            let hint = match self.peek_word() {
                Some("from" | "until" | "reason") => {
                    Some("clauses come in the order `from`, `until`, `reason`, `when`".to_owned())
                }
                _ => None,
            };
            let span = self.span();
            let found = self
                .peek()
                .map_or("the end of the policy".to_owned(), describe);
            return self.fail(
                "syntax",
                span,
                format!("expected `when`, found {found}"),
                hint,
            );
        }
        self.advance();
        self.leaves = 0;
        self.depth = 0;
        let when = self.condition()?;
        match self.peek() {
            None => {}
            Some(Token::Word(word)) if word == "allow" || word == "deny" || word == "timezone" => {}
            Some(_) => return self.unexpected("`and`, `or`, or the next rule"),
        }
        Ok(Rule {
            comments: Vec::new(),
            effect,
            id,
            from,
            until,
            reason,
            when,
            span: start.to(Span::new(start.start, self.previous_end())),
            id_span,
            clause_spans,
        })
    }

    fn string(&mut self, expected: &str) -> Parsed<(String, Span)> {
        match self.peek() {
            Some(Token::Str(_)) => match self.advance() {
                Some((Token::Str(text), span)) => Ok((text, span)),
                _ => Err(Reported),
            },
            _ => self.unexpected(expected),
        }
    }

    fn condition(&mut self) -> Parsed<Condition> {
        let first = self.unary()?;
        let chain = match self.peek_word() {
            Some(word @ ("and" | "or")) => word.to_owned(),
            _ => return Ok(first),
        };
        let mut operands = vec![first];
        while let Some(word) = self.peek_word() {
            if word != "and" && word != "or" {
                break;
            }
            if word != chain {
                let span = self.span();
                return self.fail(
                    "syntax",
                    span,
                    "`and` and `or` cannot be mixed without parentheses",
                    Some("write `(… or …) and …` or `… or (… and …)`".into()),
                );
            }
            self.advance();
            operands.push(self.unary()?);
        }
        Ok(if chain == "and" {
            Condition::And(operands)
        } else {
            Condition::Or(operands)
        })
    }

    fn nest(&mut self) -> Parsed<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let span = self.span();
            return self.fail(
                "limit",
                span,
                format!("conditions nest deeper than {MAX_DEPTH} levels"),
                None,
            );
        }
        Ok(())
    }

    fn unary(&mut self) -> Parsed<Condition> {
        if self.peek_word() == Some("not") {
            self.advance();
            self.nest()?;
            let operand = self.unary();
            self.depth -= 1;
            return Ok(Condition::Not(Box::new(operand?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Parsed<Condition> {
        let span = self.span();
        match self.peek() {
            Some(Token::LParen) => {
                self.advance();
                self.nest()?;
                let inner = self.condition();
                self.depth -= 1;
                let inner = inner?;
                if !matches!(self.peek(), Some(Token::RParen)) {
                    return self.unexpected("`)`");
                }
                self.advance();
                Ok(inner)
            }
            Some(Token::Word(word)) if word == "true" || word == "false" => {
                let value = word == "true";
                self.advance();
                self.leaf(span)?;
                Ok(Condition::Const(value))
            }
            Some(Token::Attr(_)) => {
                let Some((Token::Attr(segments), span)) = self.advance() else {
                    return Err(Reported);
                };
                self.leaf(span)?;
                self.test(Attribute { segments, span })
            }
            Some(Token::Str(_) | Token::Int(_) | Token::Duration(_)) => {
                let hint = matches!(self.tokens.get(self.pos + 1), Some((Token::Op(_), _)))
                    .then(|| "the attribute goes on the left: swap the operands".to_owned());
                self.fail(
                    "syntax",
                    span,
                    "a condition must start with an attribute",
                    hint,
                )
            }
            Some(Token::Word(word)) => {
                let message =
                    format!("expected an attribute such as `identity.groups`, found `{word}`");
                let hint = (!word.contains('.') && !KEYWORDS.contains(&word.as_str()))
                    .then(|| "attributes are dotted paths: `identity.*`, `request.*`, `kube.*`, `ssh.*`, `time.*`".to_owned());
                self.fail("syntax", span, message, hint)
            }
            _ => self.unexpected("a condition"),
        }
    }

    fn leaf(&mut self, span: Span) -> Parsed<()> {
        self.leaves += 1;
        if self.leaves > MAX_LEAVES {
            return self.fail(
                "limit",
                span,
                format!("a rule may hold at most {MAX_LEAVES} comparisons"),
                None,
            );
        }
        Ok(())
    }

    fn test(&mut self, attr: Attribute) -> Parsed<Condition> {
        let op_span = self.span();
        let op = match self.peek() {
            Some(Token::Op(op)) => match *op {
                "==" => Operator::Eq,
                "!=" => Operator::Ne,
                "<" => Operator::Lt,
                "<=" => Operator::Le,
                ">" => Operator::Gt,
                ">=" => Operator::Ge,
                _ => Operator::Regex,
            },
            Some(Token::Word(word)) => match word.as_str() {
                "exists" => {
                    self.advance();
                    return Ok(Condition::Exists(attr));
                }
                "in" => Operator::In,
                "not-in" => Operator::NotIn,
                "has" => Operator::Has,
                "has-any" => Operator::HasAny,
                "has-all" => Operator::HasAll,
                "starts_with" => Operator::StartsWith,
                "ends_with" => Operator::EndsWith,
                "contains" => Operator::Contains,
                "matches" => Operator::Matches,
                "not" if matches!(self.tokens.get(self.pos + 1), Some((Token::Word(w), _)) if w == "in") =>
                {
                    return self.fail(
                        "syntax",
                        op_span,
                        "`not in` is written as one word",
                        Some("write `not-in`".into()),
                    );
                }
                other => {
                    let hint = match other {
                        "not_in" | "notin" => Some("write `not-in`"),
                        "startswith" | "starts-with" => Some("write `starts_with`"),
                        "endswith" | "ends-with" => Some("write `ends_with`"),
                        "has_any" => Some("write `has-any`"),
                        "has_all" => Some("write `has-all`"),
                        _ => None,
                    };
                    return match hint {
                        Some(hint) => self.fail(
                            "syntax",
                            op_span,
                            format!("unknown operator `{other}`"),
                            Some(hint.into()),
                        ),
                        None => Ok(Condition::Test(attr)),
                    };
                }
            },
            _ => return Ok(Condition::Test(attr)),
        };
        self.advance();
        let value = match op {
            Operator::Regex => match self.advance() {
                Some((Token::Regex(text), span)) => Literal {
                    value: Value::Regex(text),
                    span,
                },
                _ => {
                    self.pos -= 1;
                    return self.unexpected("a regex such as `/^v[0-9]+$/`");
                }
            },
            Operator::In | Operator::NotIn => self.in_value()?,
            Operator::HasAny | Operator::HasAll => self.list()?,
            Operator::Has
            | Operator::StartsWith
            | Operator::EndsWith
            | Operator::Contains
            | Operator::Matches => {
                let (text, span) = self.string("a quoted string")?;
                Literal {
                    value: Value::String(text),
                    span,
                }
            }
            _ => self.scalar()?,
        };
        Ok(Condition::Cmp(Comparison {
            attr,
            op,
            value,
            op_span,
        }))
    }

    fn in_value(&mut self) -> Parsed<Literal> {
        if matches!(self.peek(), Some(Token::LBracket)) {
            return self.list();
        }
        let low = self.bound()?;
        if !matches!(self.peek(), Some(Token::DotDot)) {
            return match low.value {
                Value::String(_) => Ok(low),
                _ => self.unexpected("`..` (after `in`, write a list, a range or a string)"),
            };
        }
        self.advance();
        let high = self.bound()?;
        let span = low.span.to(high.span);
        Ok(Literal {
            value: Value::Range(Box::new([low, high])),
            span,
        })
    }

    fn bound(&mut self) -> Parsed<Literal> {
        match self.peek() {
            Some(Token::Int(_) | Token::Str(_) | Token::Word(_)) => self.scalar(),
            _ => self.unexpected("a list `[...]`, a range `a..b` or a string"),
        }
    }

    fn list(&mut self) -> Parsed<Literal> {
        let start = self.span();
        if !matches!(self.peek(), Some(Token::LBracket)) {
            return self.unexpected("a list `[...]`");
        }
        self.advance();
        let mut items = Vec::new();
        loop {
            if matches!(self.peek(), Some(Token::RBracket)) {
                break;
            }
            if items.len() == MAX_LIST {
                let span = self.span();
                return self.fail(
                    "limit",
                    span,
                    format!("a list may hold at most {MAX_LIST} elements"),
                    None,
                );
            }
            items.push(self.scalar()?);
            match self.peek() {
                Some(Token::Comma) => {
                    self.advance();
                }
                Some(Token::RBracket) => break,
                _ => return self.unexpected("`,` or `]`"),
            }
        }
        let end = self.span();
        self.advance();
        Ok(Literal {
            value: Value::List(items),
            span: start.to(end),
        })
    }

    fn scalar(&mut self) -> Parsed<Literal> {
        let span = self.span();
        let value = match self.peek() {
            Some(Token::Str(text)) => Value::String(text.clone()),
            Some(Token::Int(value)) => Value::Int(*value),
            Some(Token::Duration(seconds)) => Value::Duration(*seconds),
            Some(Token::Word(word)) if word == "true" || word == "false" => {
                Value::Bool(word == "true")
            }
            Some(Token::Word(word))
                if WEEKDAYS.contains(&word.as_str()) || !KEYWORDS.contains(&word.as_str()) =>
            {
                Value::Weekday(word.clone())
            }
            _ => {
                return self.unexpected("a value (a string, number, duration, weekday or boolean)");
            }
        };
        self.advance();
        Ok(Literal { value, span })
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(word) => format!("`{word}`"),
        Token::Attr(segments) => format!("attribute `{}`", segments.join(".")),
        Token::Str(_) => "a string".into(),
        Token::Int(_) => "a number".into(),
        Token::Duration(_) => "a duration".into(),
        Token::Regex(_) => "a regex".into(),
        Token::Comment(_) => "a comment".into(),
        Token::LParen => "`(`".into(),
        Token::RParen => "`)`".into(),
        Token::LBracket => "`[`".into(),
        Token::RBracket => "`]`".into(),
        Token::Comma => "`,`".into(),
        Token::DotDot => "`..`".into(),
        Token::Op(op) => format!("`{op}`"),
    }
}

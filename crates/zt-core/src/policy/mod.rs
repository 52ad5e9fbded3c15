//! The zt policy language: text and JSON forms of one AST, parsed with spans and
//! diagnostics (docs/policy.md is the reference).
//!
//! The front end (lexer, parser with error recovery, AST with its JSON form and canonical
//! pretty-printer, diagnostics, schema and type checker, linter) and the engine
//! ([`Engine`]: compiled once, indexed, deciding a [`RequestContext`] without touching
//! the heap), plus request fixtures for tests and tools.
//!
//! ```
//! use zt_core::policy::{parse, render_all};
//!
//! let source = "allow \"eng\" when identity.groups has \"engineering\"\n";
//! let (policy, diagnostics) = parse(source);
//! assert!(diagnostics.is_empty());
//! assert_eq!(policy.rules[0].id, "eng");
//! assert_eq!(render_all("p.zt", source, &diagnostics, policy.rules.len()), "p.zt: ok (1 rule)\n");
//! ```

mod ast;
mod check;
mod compile;
mod context;
mod diagnostic;
mod engine;
mod eval;
mod fixture;
mod json;
mod lexer;
mod lint;
mod literal;
mod parser;
mod pretty;
mod schema;
mod span;

pub use ast::{Attribute, Comparison, Condition, Effect, Literal, Operator, Policy, Rule, Value};
pub use check::check;
pub use context::{
    HostName, KubeAttributes, Protocol, RequestContext, SshAttributes, SshChannel, canonical_ip,
};
pub use diagnostic::{Diagnostic, MAX_DIAGNOSTICS, Severity, push_limited, render_all};
pub use engine::{CompileError, Decision, Engine, FailedConjunct, Reason, RuleResult, TraceEntry};
pub use fixture::{Case, Expectation, FixtureError, RequestFixture, parse_cases};
pub use json::{JsonError, from_json, to_json};
pub use lint::lint;
pub use parser::{MAX_SOURCE_BYTES, parse};
pub use pretty::print;
pub use schema::{AttrType, resolve};
pub use span::Span;

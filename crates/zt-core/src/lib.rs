//! zt-core: the parts of zero-trust access that do not depend on a transport.
//!
//! - [`identity`]: who is calling. OIDC/JWT verification against trusted issuers with
//!   JWKS rotation, a verified-token cache, and SPIFFE X.509-SVID workload identities.
//! - [`policy`]: the policy language and its engine: parser with diagnostics, type
//!   checker, JSON form, formatter, linter, and compiled, indexed decisions
//!   (see `docs/policy.md`).
//! - [`audit`]: what was decided. Tamper-evident audit events written by a bounded,
//!   never-silently-dropping pipeline.
//!
//! Every request is verified, nothing is trusted for its network location, and every
//! failure is typed and fails closed.

pub mod audit;
pub mod identity;
pub mod policy;
pub mod tls;

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

/// The identity guide's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/identity.md")]
struct IdentityGuideDoctests;

/// The policy reference's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/policy.md")]
struct PolicyReferenceDoctests;

/// The audit guide's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/audit.md")]
struct AuditGuideDoctests;

//! zt-kube: kubectl access through SSO.
//!
//! This crate grows into the Kubernetes API proxy (see the project README's roadmap).
//! Today it provides the rule every forwarded request starts with: the client's own
//! credentials and impersonation headers never reach the API server; the mapping from
//! verified identities to Kubernetes users ([`user`]); and webhook mode ([`webhook`]):
//! TokenReview and SubjectAccessReview endpoints the API server calls, no proxy in the
//! request path.

pub mod headers;
pub mod user;
pub mod webhook;

pub use user::{KubeUser, MappingError, UserMapping};

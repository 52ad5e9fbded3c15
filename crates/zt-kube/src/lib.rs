//! zt-kube: kubectl access through SSO.
//!
//! This crate grows into the Kubernetes API proxy (see the project README's roadmap).
//! Today it provides the rule every forwarded request starts with: the client's own
//! credentials and impersonation headers never reach the API server.

pub mod headers;

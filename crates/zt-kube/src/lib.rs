//! zt-kube: kubectl access through SSO.
//!
//! This crate grows into the Kubernetes API proxy (see the project README's roadmap).
//! Today it provides:
//!
//! - [`headers`]: the rule every forwarded request starts with: the client's own
//!   credentials and impersonation headers never reach the API server;
//! - [`request_info`]: the API server's `RequestInfo` (verb, API group and version,
//!   namespace, resource, subresource, name) resolved from a request exactly as the API
//!   server resolves it, and turned into the `kube.*` policy attributes
//!   ([`zt_core::policy::KubeAttributes`]).

pub mod forward;
pub mod front;
pub mod headers;
pub mod request_info;
pub mod serve;
pub mod status;
pub mod user;

pub use forward::{KubeProxy, KubeProxyBuilder, KubeProxyError};
pub use front::{KubeRequest, KubeRequestLayer};
pub use request_info::{RequestInfo, RequestInfoError};

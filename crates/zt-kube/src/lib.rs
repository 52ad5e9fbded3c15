//! zt-kube: kubectl access through SSO.
//!
//! It provides:
//!
//! - [`KubeRequestLayer`] + [`zt_tower::AuthLayer`] + [`KubeProxy`]: the API proxy. A
//!   request's `kube.*` attributes ([`request_info`], resolved exactly as the API server
//!   resolves them) are decided by zt policy, then it is forwarded with the proxy's own
//!   credential as the signed-in user (impersonation, [`user`]); watches stream, exec and
//!   port-forward upgrades are bridged, and both end when the policy stops allowing them;
//! - [`webhook`]: TokenReview and SubjectAccessReview endpoints the API server calls (no
//!   proxy in the request path);
//! - the kubectl side: the exec-credential plugin ([`exec_credential`], [`login`],
//!   [`token_cache`]), kubeconfig generation ([`kubeconfig`]) and the clap arguments of
//!   `kube-proxy login`, `logout` and `kubeconfig` ([`cli`]);
//! - [`headers`]: the rule every forwarded request starts with: the client's own
//!   credentials and impersonation headers never reach the API server.

pub mod cli;
pub mod cluster;
pub mod exec_credential;
pub mod forward;
pub mod front;
pub mod headers;
pub mod kube_audit;
pub mod kubeconfig;
pub mod login;
pub mod metrics;
pub mod request_info;
pub mod serve;
pub mod status;
pub mod token_cache;
pub mod user;
pub mod webhook;

pub use cluster::{ClusterAccess, ClusterAccessError, ClusterCredential};
pub use forward::{KubeProxy, KubeProxyBuilder, KubeProxyError};
pub use front::{KubeRequest, KubeRequestLayer};
pub use kube_audit::KubeAuditLog;
pub use metrics::KubeMetrics;
pub use request_info::{RequestInfo, RequestInfoError};
pub use user::{KubeUser, MappingError, UserMapping};

//! zt-kube: kubectl access through SSO.
//!
//! This crate grows into the Kubernetes API proxy (see the project README's roadmap).
//! Today it provides the rule every forwarded request starts with: the client's own
//! credentials and impersonation headers never reach the API server ([`headers`]), and
//! the kubectl side of `kube-proxy`: the exec-credential plugin ([`exec_credential`],
//! [`login`], [`token_cache`]), kubeconfig generation ([`kubeconfig`]) and the clap
//! arguments of the `login`, `logout` and `kubeconfig` subcommands ([`cli`]).

pub mod cli;
pub mod exec_credential;
pub mod headers;
pub mod kubeconfig;
pub mod login;
pub mod token_cache;

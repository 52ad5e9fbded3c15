//! zt-tower: Tower middleware that authenticates, authorizes and audits every request.
//!
//! Wrap an axum app (or any Tower HTTP service) in one [`AuthLayer`]: every request is
//! verified (bearer token, mTLS peer identity, or a token header), decided by a zt policy
//! ([`PolicyHandle`] swaps it while serving), and audited; handlers read the caller with
//! the [`Authenticated`] extractor. [`assertion`] signs the caller's identity for
//! upstreams and verifies it there; [`session`] seals browser sessions in cookies, and
//! [`login`] signs browsers in with OpenID Connect
//! over the [`oidc_http`] back-channel client. [`proxy`] has the reverse-proxy
//! pieces: strict path normalisation (policy and upstream see the same path) and
//! hop-by-hop and forwarding headers.
//!
//! Layout follows tower-http: [`AuthLayer`] (layer.rs), [`Auth`] (service.rs),
//! [`ResponseFuture`] (future.rs).

pub mod assertion;
mod authorize;
pub mod credentials;
mod extract;
mod future;
mod layer;
mod live;
pub mod login;
pub mod oidc;
pub mod oidc_http;
mod policy;
pub mod proxy;
mod response;
mod service;
pub mod session;

pub use authorize::{
    AccessDecision, Decided, DecisionObserver, DecisionSlot, LongLived, RouteName,
};
pub use credentials::PeerIdentity;
pub use extract::{Authenticated, Unauthenticated};
pub use future::ResponseFuture;
pub use layer::{AuthLayer, AuthLayerBuilder, BuildError};
pub use live::{LiveChanges, LiveCheck};
pub use policy::PolicyHandle;
pub use response::{AuthBody, problem};
pub use service::Auth;

/// The guide's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/tower.md")]
struct TowerGuideDoctests;

//! Reverse-proxy building blocks: strict path normalisation ([`path`]), hop-by-hop
//! and forwarding headers ([`headers`]), and the forwarding service ([`ReverseProxy`]).
//!
//! A path is normalised once, before anything decides on it, so the policy and the
//! upstream see the same path: wrap the whole service (router and
//! [`AuthLayer`](crate::AuthLayer) included) in a [`NormalizePathLayer`]. When
//! forwarding, remove the hop-by-hop headers first, then set the forwarding and identity
//! headers, so a client can neither smuggle them in nor have them removed.

mod forward;
pub mod headers;
mod live_body;
pub mod path;

pub use forward::{
    ClientScheme, ProxyBuildError, ReverseProxy, ReverseProxyBuilder, UpgradeGuard, UpstreamError,
};
pub use headers::{
    Forwarded, ambiguous_host, is_websocket_upgrade, remove_hop_by_hop,
    remove_hop_by_hop_for_forwarding, request_host, requested_upgrade, set_forwarded,
    strip_cookies,
};
pub use path::{
    NormalizePath, NormalizePathFuture, NormalizePathLayer, PathError, normalize_path,
    normalize_uri,
};

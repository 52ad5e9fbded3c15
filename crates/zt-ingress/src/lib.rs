//! zt-ingress: an identity-aware reverse proxy built from zt's layers (under construction).

pub mod tls;

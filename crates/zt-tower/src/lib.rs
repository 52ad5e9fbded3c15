//! zt-tower: Tower middleware that authenticates, authorizes and audits every request.
//!
//! This crate grows into the `AuthLayer` (see the project README's roadmap). Today it
//! provides the credential extraction the layer is built on.

pub mod credentials;

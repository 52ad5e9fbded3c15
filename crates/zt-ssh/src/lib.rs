//! zt-ssh: SSH access through SSO with short-lived certificates.
//!
//! This crate grows into the SSH gateway (see the project README's roadmap). Today it
//! provides how the gateway reads where a user wants to go.

pub mod target;

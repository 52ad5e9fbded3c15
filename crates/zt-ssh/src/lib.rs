//! zt-ssh: SSH access through SSO with short-lived certificates.
//!
//! This crate grows into the SSH gateway (see the project README's roadmap). Today it
//! provides:
//!
//! - [`ca`]: the user CA. An Ed25519 key, generated on first start (or loaded) from an
//!   OpenSSH key file only its owner may read, that signs OpenSSH user certificates valid
//!   for one login and a few minutes, with the zt subject and session in the key id so
//!   the upstream sshd's log links to the zt audit log; plus fresh per-session keys for
//!   the gateway's own upstream connections.
//! - [`target`]: how the gateway reads where a user wants to go (`login@host`).
//!
//! Keys and certificates are `ssh-key` types as russh re-exports them
//! ([`russh::keys::ssh_key`]), so the gateway hands them to russh unchanged.

pub mod ca;
mod keyfile;
pub mod target;

pub use ca::{CaError, CertRecord, CertRequest, Issued, UserCa, session_key};
pub use target::{SshTarget, TargetError};

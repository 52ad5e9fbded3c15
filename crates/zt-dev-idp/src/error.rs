//! The crate's error type.

/// Everything that can go wrong while configuring, starting or driving the dev IdP.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevIdpError {
    /// The listening socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address that was requested.
        addr: std::net::SocketAddr,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Some other I/O error (for example reading the bound address).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The builder was given an invalid configuration.
    #[error("invalid dev IdP configuration: {0}")]
    Config(String),
    /// Generating a signing key failed.
    #[error("key generation failed for {0}")]
    KeyGeneration(&'static str),
    /// Signing a token failed.
    #[error("signing failed for {0}")]
    Signing(&'static str),
    /// Claims could not be serialised.
    #[error("cannot serialise claims: {0}")]
    Json(#[from] serde_json::Error),
    /// The named user is not one of the dev users.
    #[error("unknown dev user {0:?}")]
    UnknownUser(String),
    /// No pending device authorization has this user code.
    #[error("no pending device authorization for user code {0:?}")]
    UnknownUserCode(String),
    /// The device authorization was already approved, denied, or has expired.
    #[error("device authorization for user code {0:?} is no longer pending")]
    DeviceNotPending(String),
}

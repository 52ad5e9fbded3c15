//! Continuous verification of long-lived connections: [`LiveCheck`] re-decides the request
//! that opened a WebSocket (or any upgraded connection) whenever the policy or the session
//! revocations change, so a connection ends once its request would be denied.

use std::fmt;
use std::sync::Arc;

use http::Request;
use tokio::sync::watch;

use zt_core::identity::Identity;

use crate::authorize::{Credential, Verdict, credential, decide_observed, verifier};
use crate::layer::Config;

/// The authority of an allowed, upgraded request, kept for the life of its connection.
///
/// The [`AuthLayer`](crate::AuthLayer) puts one into the extensions of every allowed
/// request that asks for a protocol upgrade; the proxy that bridges the connection calls
/// [`is_allowed`](Self::is_allowed) after each [`LiveChanges::changed`] (and periodically,
/// for time windows and token expiry) and closes the connection when it returns `false`.
#[derive(Clone)]
pub struct LiveCheck {
    config: Arc<Config>,
    request: Arc<Request<()>>,
    /// The identity the request was allowed with.
    identity: Option<Arc<Identity>>,
}

impl LiveCheck {
    /// Keeps what is needed to decide `request` again (method, URI, headers, extensions,
    /// and the identity it was allowed with).
    pub(crate) fn new<B>(
        config: Arc<Config>,
        request: &Request<B>,
        identity: Option<Arc<Identity>>,
    ) -> Self {
        let mut copy = Request::new(());
        *copy.method_mut() = request.method().clone();
        *copy.uri_mut() = request.uri().clone();
        *copy.version_mut() = request.version();
        *copy.headers_mut() = request.headers().clone();
        *copy.extensions_mut() = request.extensions().clone();
        Self {
            config,
            request: Arc::new(copy),
            identity,
        }
    }

    /// Whether the request would be allowed now: its credential is checked again (a
    /// bearer token's expiry; a browser session's expiry and revocation) and the request
    /// is decided by the policy in force. A denial is audited.
    ///
    /// A browser session outlives its access token (the layer refreshes it on the next
    /// request), so while the session itself is valid the connection keeps the identity
    /// it was opened with.
    pub async fn is_allowed(&self) -> bool {
        let config = &*self.config;
        let request = &*self.request;
        let token = match credential(config, request) {
            Credential::None => None,
            Credential::Peer(identity) => return self.decide(Some(identity)).await,
            Credential::Token(token) => Some(token.into_owned()),
            // The session opened, so it is neither expired nor revoked; its access token
            // is due for a refresh that an open connection cannot take.
            Credential::Refresh(_) => return self.decide(self.identity.clone()).await,
            Credential::Invalid(_) => None,
        };
        let identity = match token {
            None => None,
            Some(token) => match verifier(config) {
                Ok(verifier) => match verifier.verify_cached(&token) {
                    Some(identity) => Some(identity),
                    None => verifier.verify(&token).await.ok(),
                },
                Err(_) => None,
            },
        };
        self.decide(identity).await
    }

    async fn decide(&self, identity: Option<Arc<Identity>>) -> bool {
        let (verdict, event) =
            decide_observed(&self.config, &self.request, identity.as_ref(), false);
        if matches!(verdict, Verdict::Allow(_)) {
            return true;
        }
        if let Some(auditor) = &self.config.auditor {
            let event = event.field("connection", "closed: no longer allowed");
            if let Err(error) = auditor.record(event).await {
                tracing::error!(%error, "cannot audit the end of a live connection");
            }
        }
        false
    }

    /// Notifications of changes that may flip the decision (policy swaps, revocations).
    pub fn changes(&self) -> LiveChanges {
        LiveChanges {
            policy: self.config.policy.subscribe(),
            revocations: self
                .config
                .session
                .as_ref()
                .and_then(|cookie| cookie.revocations())
                .map(|revocations| revocations.subscribe()),
        }
    }
}

impl fmt::Debug for LiveCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveCheck")
            .field("method", self.request.method())
            .field("path", &self.request.uri().path())
            .finish_non_exhaustive()
    }
}

/// Change notifications for one live connection, from [`LiveCheck::changes`].
#[derive(Debug)]
pub struct LiveChanges {
    policy: watch::Receiver<u64>,
    revocations: Option<watch::Receiver<u64>>,
}

impl LiveChanges {
    /// Resolves at the next policy swap or revocation. Never resolves once every source
    /// is gone.
    pub async fn changed(&mut self) {
        let policy = async {
            if self.policy.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let revocations = async {
            let open = match &mut self.revocations {
                Some(receiver) => receiver.changed().await.is_ok(),
                None => false,
            };
            if !open {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = policy => {}
            () = revocations => {}
        }
    }
}

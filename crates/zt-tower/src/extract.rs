//! [`Authenticated`], the axum extractor for the caller the layer verified.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use zt_core::identity::Identity;

use crate::authorize::AccessDecision;
use crate::response::unauthorized;

/// The verified caller of a request allowed by [`AuthLayer`](crate::AuthLayer), and the
/// rules that allowed it. Extracting it from a request that has no identity (a public
/// route, or a handler outside the layer) rejects with 401; use
/// `Option<Authenticated>` where identity is optional.
///
/// ```
/// use zt_tower::Authenticated;
///
/// async fn whoami(caller: Authenticated) -> String {
///     format!("{} via {:?}", caller.subject, caller.rules)
/// }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Authenticated {
    /// Who is calling.
    pub identity: Arc<Identity>,
    /// Ids of the allow rules that matched.
    pub rules: Vec<String>,
}

impl Deref for Authenticated {
    type Target = Identity;

    fn deref(&self) -> &Identity {
        &self.identity
    }
}

/// The rejection of [`Authenticated`]: 401 with `WWW-Authenticate`.
#[derive(Debug)]
pub struct Unauthenticated(http::HeaderMap);

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        unauthorized(&self.0, None).map(axum::body::Body::new)
    }
}

fn from_parts(parts: &Parts) -> Option<Authenticated> {
    let identity = parts.extensions.get::<Arc<Identity>>()?;
    let rules = parts
        .extensions
        .get::<AccessDecision>()
        .map(|decision| decision.rules.clone())
        .unwrap_or_default();
    Some(Authenticated {
        identity: Arc::clone(identity),
        rules,
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Unauthenticated;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        from_parts(parts).ok_or_else(|| Unauthenticated(parts.headers.clone()))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(from_parts(parts))
    }
}

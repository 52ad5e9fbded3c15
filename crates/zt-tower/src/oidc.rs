//! OpenID Connect client checks shared by zt's sign-in flows (the browser login here,
//! `kube-proxy login`'s device code in zt-kube).

use openidconnect::core::{CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier};
use openidconnect::{AccessToken, AccessTokenHash, NonceVerifier};

/// Verifies `id_token` (signature, issuer, audience, expiry and `nonce`) and, when it
/// carries `at_hash`, that it was issued with `access_token`. Errors are the whole
/// error chain as text.
pub fn verify_id_token<'t>(
    id_token: &'t CoreIdToken,
    verifier: &CoreIdTokenVerifier<'_>,
    nonce: impl NonceVerifier,
    access_token: &AccessToken,
) -> Result<&'t CoreIdTokenClaims, String> {
    let claims = id_token
        .claims(verifier, nonce)
        .map_err(|e| error_chain(&e))?;
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token.signing_alg().map_err(|e| error_chain(&e))?;
        let key = id_token
            .signing_key(verifier)
            .map_err(|e| error_chain(&e))?;
        let actual =
            AccessTokenHash::from_token(access_token, alg, key).map_err(|e| error_chain(&e))?;
        if actual != *expected {
            return Err("at_hash does not match the access token".to_owned());
        }
    }
    Ok(claims)
}

/// An error and its sources, `: `-separated, for logs and error messages.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

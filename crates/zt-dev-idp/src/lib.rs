//! A small, real OpenID Provider for zt development and tests. **Not for production.**
//!
//! It serves discovery, a JWKS, the authorization endpoint (code flow, PKCE S256
//! mandatory) with a one-click login page per dev user (no passwords), the token
//! endpoint (authorization code, refresh token with rotation, device code), device
//! authorization (RFC 8628), userinfo and end_session. It binds loopback by default and
//! prints a banner saying it is for development only.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), zt_dev_idp::DevIdpError> {
//! use zt_dev_idp::DevIdp;
//!
//! let idp = DevIdp::builder().banner(false).start().await?;
//! let token = idp.mint_access_token("alice")?;
//! assert_eq!(token.split('.').count(), 3);
//! println!("issuer: {}", idp.issuer());
//! idp.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Behaviour worth knowing:
//! - Every token response carries a refresh token, unless
//!   [`DevIdpBuilder::require_offline_access_for_refresh`] is set. Refresh rotates the
//!   token; the old one stops working. Refreshed ID tokens keep `auth_time` and `sid` but
//!   carry no `nonce`.
//! - `end_session` ends the IdP session and revokes the refresh tokens issued in it.
//!   Registered redirect URIs (and loopback ones, when allowed) are accepted as
//!   `post_logout_redirect_uri`.
//! - Device flow `slow_down` grows that device code's interval by the configured
//!   increment (default: the poll interval, i.e. 5 s at the defaults as in RFC 8628).

mod app;
mod authorize;
mod config;
mod cookies;
mod device;
mod discovery;
mod end_session;
mod error;
mod html;
mod keys;
mod oauth_error;
mod params;
mod pkce;
mod random;
mod redirect;
mod server;
mod store;
mod token_endpoint;
mod tokens;
mod userinfo;

pub use config::{DevClient, DevUser, SigningAlg};
pub use error::DevIdpError;
pub use keys::KeyRing;
pub use server::{DevIdp, DevIdpBuilder, RunningDevIdp};

/// The dev IdP guide's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/dev-idp.md")]
struct GuideDoctests;

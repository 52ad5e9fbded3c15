//! The OpenID provider as discovered: client, endpoints and keys, re-discovered now and
//! then so rotated signing keys are picked up.

use std::time::Instant;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    Client, ClientId, ClientSecret, EmptyAdditionalClaims, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, ProviderMetadataWithLogout, RedirectUrl,
    StandardErrorResponse, StandardTokenResponse,
};

use super::LoginError;
use crate::oidc_http::{HttpClient, is_secure_or_loopback};

pub(super) type TokenFields = IdTokenFields<
    EmptyAdditionalClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

pub(super) type TokenResponse = StandardTokenResponse<TokenFields, CoreTokenType>;

pub(super) type OidcClient = Client<
    EmptyAdditionalClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// One discovery of the provider.
pub(super) struct Provider {
    pub(super) client: OidcClient,
    pub(super) end_session: Option<url::Url>,
    pub(super) fetched_at: Instant,
}

/// What discovery needs.
pub(super) struct ClientSettings<'a> {
    pub(super) issuer: &'a str,
    pub(super) client_id: &'a str,
    pub(super) client_secret: Option<&'a str>,
    pub(super) redirect_uri: &'a str,
}

impl Provider {
    /// Fetches the discovery document and the JWKS and builds the client.
    pub(super) async fn discover(
        http: &HttpClient,
        settings: &ClientSettings<'_>,
    ) -> Result<Self, LoginError> {
        let issuer = IssuerUrl::new(settings.issuer.to_owned())
            .map_err(|_| LoginError::Config("the issuer is not a URL".into()))?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, http)
            .await
            .map_err(|e| LoginError::Discovery(error_chain(&e)))?;
        let authorize = metadata.authorization_endpoint().url();
        if !is_secure_or_loopback(authorize) {
            return Err(LoginError::Discovery(
                "the authorization endpoint is neither https nor loopback http".into(),
            ));
        }
        let end_session = metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()
            .map(|url| url.url().clone())
            .filter(|url| {
                let ok = is_secure_or_loopback(url);
                if !ok {
                    tracing::warn!("ignoring an end_session_endpoint that is not https");
                }
                ok
            });
        let redirect = RedirectUrl::new(settings.redirect_uri.to_owned())
            .map_err(|_| LoginError::Config("the redirect URI is not a URL".into()))?;
        let client = OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(settings.client_id.to_owned()),
            settings
                .client_secret
                .map(|secret| ClientSecret::new(secret.to_owned())),
        )
        .set_redirect_uri(redirect);
        if client.token_uri().is_none() {
            return Err(LoginError::Discovery(
                "the provider has no token endpoint".into(),
            ));
        }
        Ok(Self {
            client,
            end_session,
            fetched_at: Instant::now(),
        })
    }
}

pub(super) use crate::oidc::error_chain;

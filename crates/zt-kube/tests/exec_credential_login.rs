#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The exec-credential plugin against the real dev IdP over HTTP: a device-code sign-in
//! approved the way a user does it (the IdP's /device form), the ExecCredential it yields,
//! a second call served from the cache without a single connection to the IdP, a refresh
//! when the cached token is close to expiry, a failed refresh falling back to a new
//! sign-in only when interactive, denial, and logout removing the cache entry.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use openidconnect::AsyncHttpClient as _;
use serde_json::Value;
use tokio::task::JoinHandle;
use zt_dev_idp::{DevIdp, RunningDevIdp};
use zt_kube::login::{
    CredentialSource, DeviceAuthorization, LoginConfig, LoginError, Revocation, TokenKind,
};
use zt_tower::oidc_http::HttpClient;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "zt-kube-it-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The dev IdP behind a TCP relay that counts connections; the issuer is the relay's
/// address, so every request the plugin makes to the IdP goes through it.
struct CountedIdp {
    idp: RunningDevIdp,
    connections: Arc<AtomicUsize>,
}

impl CountedIdp {
    async fn start() -> Self {
        let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay_addr = relay.local_addr().unwrap();
        let idp = DevIdp::builder()
            .banner(false)
            .issuer(format!("http://{relay_addr}"))
            .device_poll_interval(Duration::from_millis(200))
            .start()
            .await
            .unwrap();
        let target = idp.addr();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = relay.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { idp, connections }
    }

    fn issuer(&self) -> &str {
        self.idp.issuer()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn config(&self, cache: &TempDir) -> LoginConfig {
        // The dev IdP's default client: public, device grant allowed.
        LoginConfig::new(self.issuer(), "zt-dev", &cache.0).scopes(["profile", "email", "groups"])
    }
}

/// What a user does with the prompt: open the verification URL and press a button on the
/// IdP's /device page (`action=deny`, or the button of a dev user).
fn user_submits(
    issuer: &str,
    auth: &DeviceAuthorization,
    button: (&'static str, &'static str),
) -> JoinHandle<String> {
    assert_eq!(auth.verification_uri, format!("{issuer}/device"));
    let complete = auth.verification_uri_complete.clone().unwrap();
    assert!(complete.ends_with(&format!("user_code={}", auth.user_code)));
    assert!(auth.expires_in > Duration::from_secs(60));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("user_code", &auth.user_code)
        .append_pair(button.0, button.1)
        .finish();
    let url = auth.verification_uri.clone();
    tokio::spawn(async move {
        let http = HttpClient::new(Duration::from_secs(10)).unwrap();
        let request = http::Request::post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.into_bytes())
            .unwrap();
        let response = http.call(request).await.unwrap();
        assert_eq!(response.status(), 200);
        String::from_utf8(response.into_body()).unwrap()
    })
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

fn never_prompted(_: &DeviceAuthorization) {
    panic!("the plugin asked for a sign-in");
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_then_cache_then_refresh_then_logout() {
    let idp = CountedIdp::start().await;
    let cache_dir = TempDir::new("flow");
    let config = idp.config(&cache_dir);

    // Nothing cached and no terminal: a clear error, and the IdP is not even asked.
    let err = config.credential(false, never_prompted).await.unwrap_err();
    assert!(
        matches!(err, LoginError::InteractionRequired { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&format!(
        "kube-proxy login --issuer {} --client-id zt-dev",
        idp.issuer()
    )));
    assert_eq!(idp.connections(), 0);

    // Interactive: the device flow, approved on the /device page as alice.
    let mut approval = None;
    let issuer = idp.issuer().to_owned();
    let first = config
        .credential(true, |auth| {
            approval = Some(user_submits(&issuer, auth, ("username", "alice")));
        })
        .await
        .unwrap();
    let page = approval.expect("prompted").await.unwrap();
    assert!(page.contains("approved"), "{page}");
    assert_eq!(first.source, CredentialSource::DeviceCode);
    assert_eq!(first.subject, "alice");
    assert!(idp.connections() > 0);

    // The ExecCredential kubectl reads: the access token (a JWT for the client id).
    let json: Value = serde_json::from_str(&first.credential.to_json().unwrap()).unwrap();
    assert_eq!(json["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(json["kind"], "ExecCredential");
    let token = json["status"]["token"].as_str().unwrap().to_owned();
    let at = claims(&token);
    assert_eq!(at["sub"], "alice");
    assert_eq!(at["aud"], "zt-dev");
    assert_eq!(at["client_id"], "zt-dev");
    let expiry: Timestamp = json["status"]["expirationTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(expiry.as_second(), at["exp"].as_i64().unwrap());
    assert!(
        !format!("{first:?}").contains(&token),
        "Debug shows the token"
    );

    // Cached: 0600, with the refresh token.
    let cache = config.cache();
    #[cfg(unix)]
    assert_eq!(mode(cache.path()), 0o600);
    let cached = cache.load().unwrap().unwrap();
    assert_eq!(cached.access_token.expose(), token);
    let first_refresh = cached.refresh_token.clone().unwrap();

    // Second call: from the cache, no connection to the IdP, no prompt.
    let before = idp.connections();
    let second = config.credential(false, never_prompted).await.unwrap();
    assert_eq!(second.source, CredentialSource::Cache);
    assert_eq!(second.credential, first.credential);
    assert_eq!(idp.connections(), before);

    // Less than a minute left: refreshed (non-interactively), and the cache updated.
    let mut near = cached.clone();
    near.access_token_expires_at = Timestamp::now() + SignedDuration::from_secs(30);
    cache.store(&near).unwrap();
    let third = config.credential(false, never_prompted).await.unwrap();
    assert_eq!(third.source, CredentialSource::Refresh);
    assert!(idp.connections() > before);
    let refreshed = cache.load().unwrap().unwrap();
    let new_token = third.credential.status.token.clone().unwrap();
    assert_ne!(new_token.expose(), token);
    assert_eq!(refreshed.access_token, new_token);
    assert_eq!(refreshed.subject, "alice");
    assert_ne!(refreshed.refresh_token.as_ref(), Some(&first_refresh));
    assert!(refreshed.access_token_expires_at > Timestamp::now() + SignedDuration::from_secs(60));

    // The ID token, when asked for: verified, for the client, same user.
    let id = config
        .clone()
        .token_kind(TokenKind::Id)
        .credential(false, never_prompted)
        .await
        .unwrap();
    let id_claims = claims(id.credential.status.token.as_ref().unwrap().expose());
    assert_eq!(id_claims["sub"], "alice");
    assert_eq!(id_claims["aud"], "zt-dev");
    assert!(id_claims.get("client_id").is_none());

    // Logout removes the entry (the dev IdP has no revocation endpoint).
    let outcome = config.logout(true).await.unwrap();
    assert!(outcome.removed);
    assert_eq!(outcome.revocation, Revocation::Unsupported);
    assert!(!cache.path().exists());
    assert!(!config.logout(true).await.unwrap().removed);
    assert!(matches!(
        config.credential(false, never_prompted).await,
        Err(LoginError::InteractionRequired { .. })
    ));
    idp.idp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_signs_in_again_only_when_interactive() {
    let idp = CountedIdp::start().await;
    let cache_dir = TempDir::new("refresh-fails");
    let config = idp.config(&cache_dir);
    let issuer = idp.issuer().to_owned();
    let mut approval = None;
    config
        .credential(true, |auth| {
            approval = Some(user_submits(&issuer, auth, ("username", "bob")));
        })
        .await
        .unwrap();
    approval.unwrap().await.unwrap();

    // An expired access token and a refresh token the IdP does not know.
    let cache = config.cache();
    let mut stale = cache.load().unwrap().unwrap();
    stale.access_token_expires_at = Timestamp::now() - SignedDuration::from_secs(1);
    stale.id_token_expires_at = Some(Timestamp::now() - SignedDuration::from_secs(1));
    stale.refresh_token = Some(zt_kube::token_cache::Secret::new("revoked"));
    cache.store(&stale).unwrap();

    let err = config.credential(false, never_prompted).await.unwrap_err();
    assert!(
        matches!(err, LoginError::InteractionRequired { .. }),
        "{err}"
    );
    // The entry is kept (the refresh may have failed for a passing reason).
    assert!(cache.path().exists());

    let mut approval = None;
    let again = config
        .credential(true, |auth| {
            approval = Some(user_submits(&issuer, auth, ("username", "bob")));
        })
        .await
        .unwrap();
    approval.unwrap().await.unwrap();
    assert_eq!(again.source, CredentialSource::DeviceCode);
    assert_eq!(again.subject, "bob");
    assert_ne!(
        cache
            .load()
            .unwrap()
            .unwrap()
            .refresh_token
            .unwrap()
            .expose(),
        "revoked"
    );
    idp.idp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_sign_in_is_reported_and_nothing_is_cached() {
    let idp = CountedIdp::start().await;
    let cache_dir = TempDir::new("denied");
    let config = idp.config(&cache_dir);
    let issuer = idp.issuer().to_owned();
    let mut denial = None;
    let err = config
        .credential(true, |auth| {
            denial = Some(user_submits(&issuer, auth, ("action", "deny")));
        })
        .await
        .unwrap_err();
    assert!(denial.unwrap().await.unwrap().contains("denied"));
    assert!(matches!(err, LoginError::AccessDenied), "{err}");
    assert!(err.to_string().contains("denied"));
    assert!(config.cache().load().unwrap().is_none());
    idp.idp.shutdown().await;
}

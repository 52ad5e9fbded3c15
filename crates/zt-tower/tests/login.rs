//! Browser login end to end against a real OpenID provider (zt-dev-idp): a cookie-keeping
//! client follows the redirects from a protected page through the IdP's login form back
//! to the page; state, PKCE and nonce mismatches, tampered, expired and foreign cookies and
//! open-redirect attempts are all refused; logout goes through the IdP's end_session,
//! revokes the session (a copied cookie stops working) and ends live connections.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Extension;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use url::Url;
use zt_core::identity::{IssuerConfig, Verifier};
use zt_core::policy::Engine;
use zt_dev_idp::{DevIdp, RunningDevIdp};
use zt_tower::login::{LOGIN_STATE_COOKIE, LoginConfig};
use zt_tower::session::{DEFAULT_COOKIE_NAME, Revocations, Session, SessionCookie, SessionKeys};
use zt_tower::{AuthLayer, Authenticated, LiveCheck};

const POLICY: &str = r#"
# zt-lint: allow allow-without-identity
allow "public" when request.path == "/"
allow "signed-in" when identity.authenticated and request.path starts_with "/me"
"#;

// ---------------------------------------------------------------- a tiny browser

struct Resp {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn location(&self) -> &str {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location ({}): {}", self.status, self.text()))
    }
    fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

/// Keeps cookies per host:port (also `Secure` ones over http to 127.0.0.1, as browsers
/// do for loopback) and follows no redirect by itself.
#[derive(Clone)]
struct Browser {
    client: Client<HttpConnector, Full<Bytes>>,
    jar: Arc<Mutex<HashMap<String, HashMap<String, String>>>>,
}

impl Browser {
    fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            jar: Arc::default(),
        }
    }

    fn cookie(&self, url: &Url, name: &str) -> Option<String> {
        let jar = self.jar.lock().unwrap();
        jar.get(&origin(url))?.get(name).cloned()
    }

    fn set_cookie(&self, url: &Url, name: &str, value: &str) {
        let mut jar = self.jar.lock().unwrap();
        jar.entry(origin(url))
            .or_default()
            .insert(name.to_owned(), value.to_owned());
    }

    fn remove_cookie(&self, url: &Url, name: &str) {
        let mut jar = self.jar.lock().unwrap();
        if let Some(cookies) = jar.get_mut(&origin(url)) {
            cookies.remove(name);
        }
    }

    async fn send(&self, method: Method, url: &Url, form: Option<String>) -> Resp {
        let mut request = Request::builder()
            .method(method)
            .uri(url.as_str())
            .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8");
        let cookies = {
            let jar = self.jar.lock().unwrap();
            jar.get(&origin(url))
                .map(|c| {
                    c.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default()
        };
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies);
        }
        if form.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let request = request
            .body(Full::new(Bytes::from(form.unwrap_or_default())))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let resp = Resp {
            status,
            headers,
            body,
        };
        for set in resp.set_cookies() {
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.remove_cookie(url, name);
            } else {
                self.set_cookie(url, name, value);
            }
        }
        resp
    }

    async fn get(&self, url: &Url) -> Resp {
        self.send(Method::GET, url, None).await
    }
}

fn origin(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap()
    )
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

// ---------------------------------------------------------------- the app

struct App {
    idp: RunningDevIdp,
    base: Url,
    keys: SessionKeys,
    /// The `LiveCheck` of each upgrade request to `/me/live`.
    live: tokio::sync::mpsc::UnboundedReceiver<LiveCheck>,
}

impl App {
    fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap()
    }

    /// The login-state cookie's contents, opened with the app's keys.
    fn open_login_state(&self, browser: &Browser) -> Value {
        let value = browser.cookie(&self.base, LOGIN_STATE_COOKIE).unwrap();
        let plain = self
            .keys
            .open(&value, LOGIN_STATE_COOKIE.as_bytes())
            .unwrap();
        serde_json::from_slice(&plain).unwrap()
    }

    fn store_login_state(&self, browser: &Browser, state: &Value) {
        let sealed = self
            .keys
            .seal(
                &serde_json::to_vec(state).unwrap(),
                LOGIN_STATE_COOKIE.as_bytes(),
            )
            .unwrap();
        browser.set_cookie(&self.base, LOGIN_STATE_COOKIE, &sealed);
    }

    fn store_session(&self, browser: &Browser, keys: &SessionKeys, session: &Session) {
        let sealed = keys
            .seal(
                &serde_json::to_vec(session).unwrap(),
                DEFAULT_COOKIE_NAME.as_bytes(),
            )
            .unwrap();
        browser.set_cookie(&self.base, DEFAULT_COOKIE_NAME, &sealed);
    }

    /// `GET /.zt/login?rd=...`: the IdP authorization URL it redirects to.
    async fn start_login(&self, browser: &Browser, rd: &str) -> Url {
        let mut login = self.url("/.zt/login");
        login.query_pairs_mut().append_pair("rd", rd);
        let resp = browser.get(&login).await;
        assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.text());
        let authorize = Url::parse(resp.location()).unwrap();
        assert!(
            authorize
                .as_str()
                .starts_with(&format!("{}/authorize?", self.idp.issuer()))
        );
        assert!(browser.cookie(&self.base, LOGIN_STATE_COOKIE).is_some());
        authorize
    }

    /// Submits the dev IdP's login form as `user` (as its own tests do): the callback URL.
    async fn approve(&self, browser: &Browser, authorize: &Url, user: &str) -> Url {
        let mut pairs: Vec<(String, String)> = authorize
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        pairs.push(("username".into(), user.into()));
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let resp = browser
            .send(
                Method::POST,
                &Url::parse(&format!("{}/authorize", self.idp.issuer())).unwrap(),
                Some(form),
            )
            .await;
        assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.text());
        let callback = Url::parse(resp.location()).unwrap();
        assert!(
            callback
                .as_str()
                .starts_with(self.url("/.zt/callback").as_str())
        );
        callback
    }

    /// A full sign-in through `/.zt/login?rd=`: the callback's response.
    async fn sign_in(&self, browser: &Browser, rd: &str, user: &str) -> Resp {
        let authorize = self.start_login(browser, rd).await;
        let callback = self.approve(browser, &authorize, user).await;
        browser.get(&callback).await
    }

    fn session(&self, expires_at: Timestamp) -> Session {
        let now = Timestamp::now();
        Session {
            subject: "alice".into(),
            issuer: self.idp.issuer().into(),
            session_id: Session::random_id().unwrap(),
            access_token: self.idp.mint_access_token("alice").unwrap(),
            refresh_token: None,
            id_token: None,
            access_token_expires_at: now + SignedDuration::from_secs(300),
            created_at: now - SignedDuration::from_secs(3600),
            expires_at,
            email: Some("alice@example.com".into()),
            name: None,
        }
    }
}

async fn start() -> App {
    let idp = DevIdp::builder().banner(false).start().await.unwrap();
    let keys = SessionKeys::generate().unwrap();
    let cookie = SessionCookie::new(keys.clone()).with_revocations(Revocations::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let login = LoginConfig::new(
        idp.issuer(),
        "zt-dev",
        base.as_str().trim_end_matches('/'),
        cookie.clone(),
    )
    .offline_access(true)
    .build()
    .await
    .unwrap();
    assert_eq!(login.login_path(), "/.zt/login");
    assert_eq!(login.redirect_uri(), format!("{}.zt/callback", base));
    let verifier = Verifier::builder()
        .issuer(IssuerConfig::discover(idp.issuer()).audience("zt-dev"))
        .build()
        .await
        .unwrap();
    let layer = AuthLayer::builder()
        .verifier(verifier)
        .policy(Engine::from_source(POLICY).unwrap())
        .login(login.clone())
        .build()
        .unwrap();
    drop(cookie);
    let (live_tx, live) = tokio::sync::mpsc::unbounded_channel();
    let app = Router::new()
        .route(
            "/me/live",
            get(move |Extension(check): Extension<LiveCheck>| async move {
                live_tx.send(check).unwrap();
                "live"
            }),
        )
        .route("/", get(|| async { "welcome" }))
        .route(
            "/me",
            get(
                |caller: Authenticated| async move { format!("hello {}", caller.identity.subject) },
            ),
        )
        .layer(layer)
        .merge(login.router());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    App {
        idp,
        base,
        keys,
        live,
    }
}

/// The callback was refused: no session cookie, the login state cleared, and the
/// protected page still sends the browser to login.
async fn assert_refused(app: &App, browser: &Browser, resp: &Resp, status: StatusCode) {
    assert_eq!(resp.status, status, "{}", resp.text());
    assert!(
        resp.set_cookies()
            .iter()
            .all(|c| !c.starts_with(&format!("{DEFAULT_COOKIE_NAME}=")))
    );
    assert!(browser.cookie(&app.base, LOGIN_STATE_COOKIE).is_none());
    assert!(!resp.text().contains("eyJ"), "no tokens in error bodies");
    let me = browser.get(&app.url("/me")).await;
    assert_eq!(me.status, StatusCode::SEE_OTHER);
    assert!(me.location().starts_with("/.zt/login?rd="));
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn browser_signs_in_through_the_idp_and_comes_back() {
    let app = start().await;
    let browser = Browser::new();

    // The protected page sends the browser to login, which sends it to the IdP.
    let me = browser.get(&app.url("/me?tab=1")).await;
    assert_eq!(me.status, StatusCode::SEE_OTHER);
    let login = app.url(me.location());
    assert_eq!(login.path(), "/.zt/login");
    let resp = browser.get(&login).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    let state_cookie = resp
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with(LOGIN_STATE_COOKIE))
        .unwrap()
        .to_owned();
    assert!(
        state_cookie.contains("Max-Age=600")
            && state_cookie.contains("Path=/")
            && state_cookie.contains("Secure")
            && state_cookie.contains("HttpOnly")
            && state_cookie.contains("SameSite=Lax")
            && !state_cookie.contains("Domain"),
        "{state_cookie}"
    );
    let authorize = Url::parse(resp.location()).unwrap();
    assert_eq!(query(&authorize, "response_type").as_deref(), Some("code"));
    assert_eq!(query(&authorize, "client_id").as_deref(), Some("zt-dev"));
    assert_eq!(
        query(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query(&authorize, "redirect_uri").unwrap(),
        app.url("/.zt/callback").as_str()
    );
    let scope = query(&authorize, "scope").unwrap();
    for s in ["openid", "profile", "email", "offline_access"] {
        assert!(scope.split(' ').any(|x| x == s), "{scope}");
    }
    let state = query(&authorize, "state").unwrap();
    assert!(state.len() >= 22 && query(&authorize, "nonce").unwrap().len() >= 22);
    let sealed = app.open_login_state(&browser);
    assert_eq!(sealed["state"], state.as_str());
    assert_eq!(sealed["return_to"], "/me?tab=1");

    // The IdP's login form, then its one-click login.
    let page = browser.get(&authorize).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("development only"));
    let callback = app.approve(&browser, &authorize, "alice").await;
    assert_eq!(query(&callback, "state").as_deref(), Some(state.as_str()));

    // The callback sets the session, clears the login state, and returns.
    let done = browser.get(&callback).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert_eq!(done.location(), "/me?tab=1");
    let session_cookie = done
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with(DEFAULT_COOKIE_NAME))
        .unwrap();
    assert!(session_cookie.ends_with("; Secure; HttpOnly; SameSite=Lax"));
    assert!(browser.cookie(&app.base, LOGIN_STATE_COOKIE).is_none());
    let session: Session = {
        let value = browser.cookie(&app.base, DEFAULT_COOKIE_NAME).unwrap();
        serde_json::from_slice(
            &app.keys
                .open(&value, DEFAULT_COOKIE_NAME.as_bytes())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(session.subject, "alice");
    assert_eq!(session.issuer, app.idp.issuer());
    assert!(session.refresh_token.is_some() && session.id_token.is_some());
    assert_eq!(session.email.as_deref(), Some("alice@example.com"));
    let lifetime = session.expires_at.as_second() - session.created_at.as_second();
    assert_eq!(lifetime, 8 * 3600);

    // Back on the protected page, signed in.
    let me = browser.get(&app.url("/me?tab=1")).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text());
    assert_eq!(me.text(), "hello alice");

    // The callback cannot be replayed (the login state is gone).
    let replay = browser.get(&callback).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn userinfo_with_and_without_a_session() {
    let app = start().await;
    let browser = Browser::new();
    let none = browser.get(&app.url("/.zt/userinfo")).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(none.json()["status"], 401);

    let done = app.sign_in(&browser, "/", "bob").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let info = browser.get(&app.url("/.zt/userinfo")).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text());
    let info = info.json();
    assert_eq!(info["subject"], "bob");
    assert_eq!(info["email"], "bob@example.com");
    assert_eq!(info["issuer"], app.idp.issuer());
    assert!(info["name"].is_string());
    assert!(info.get("access_token").is_none() && !info.to_string().contains("eyJ"));
}

#[tokio::test]
async fn state_mismatch_is_rejected() {
    let app = start().await;
    let browser = Browser::new();
    let authorize = app.start_login(&browser, "/me").await;
    let callback = app.approve(&browser, &authorize, "alice").await;
    let mut forged = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "forged-state".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let resp = browser.get(&forged).await;
    assert_refused(&app, &browser, &resp, StatusCode::BAD_REQUEST).await;

    // A callback without any login state (another browser) is refused too.
    let authorize = app.start_login(&browser, "/me").await;
    let callback = app.approve(&browser, &authorize, "alice").await;
    let other = Browser::new();
    let resp = other.get(&callback).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);

    // Two logins in two browsers: each callback only works with its own state cookie.
    let a = Browser::new();
    let b = Browser::new();
    let auth_a = app.start_login(&a, "/me").await;
    let _auth_b = app.start_login(&b, "/me").await;
    let callback_a = app.approve(&a, &auth_a, "alice").await;
    let cookie_b = b.cookie(&app.base, LOGIN_STATE_COOKIE).unwrap();
    a.set_cookie(&app.base, LOGIN_STATE_COOKIE, &cookie_b);
    let resp = a.get(&callback_a).await;
    assert_refused(&app, &a, &resp, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn tampered_login_state_is_rejected() {
    let app = start().await;
    let browser = Browser::new();
    let authorize = app.start_login(&browser, "/me").await;
    let callback = app.approve(&browser, &authorize, "alice").await;
    let value = browser.cookie(&app.base, LOGIN_STATE_COOKIE).unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(&value).unwrap();
    let last = raw.len() - 20;
    raw[last] ^= 1;
    browser.set_cookie(&app.base, LOGIN_STATE_COOKIE, &URL_SAFE_NO_PAD.encode(raw));
    let resp = browser.get(&callback).await;
    assert_refused(&app, &browser, &resp, StatusCode::BAD_REQUEST).await;

    // A session cookie's value moved into the login-state cookie does not open either.
    let other = Browser::new();
    let authorize = app.start_login(&other, "/me").await;
    let callback = app.approve(&other, &authorize, "alice").await;
    let moved = app
        .keys
        .seal(
            &serde_json::to_vec(&app.open_login_state(&other)).unwrap(),
            DEFAULT_COOKIE_NAME.as_bytes(),
        )
        .unwrap();
    other.set_cookie(&app.base, LOGIN_STATE_COOKIE, &moved);
    let resp = other.get(&callback).await;
    assert_refused(&app, &other, &resp, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn pkce_verifier_mismatch_is_rejected() {
    let app = start().await;
    let a = Browser::new();
    let b = Browser::new();
    let auth_a = app.start_login(&a, "/me").await;
    let _auth_b = app.start_login(&b, "/me").await;
    let callback_a = app.approve(&a, &auth_a, "alice").await;
    // Login A's state and nonce, but login B's PKCE verifier (resealed with the app's
    // keys: without them the cookie cannot be changed at all, see above).
    let mut state = app.open_login_state(&a);
    let other = app.open_login_state(&b);
    assert_ne!(state["pkce_verifier"], other["pkce_verifier"]);
    state["pkce_verifier"] = other["pkce_verifier"].clone();
    app.store_login_state(&a, &state);
    let resp = a.get(&callback_a).await;
    assert_refused(&app, &a, &resp, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn nonce_mismatch_is_rejected() {
    let app = start().await;
    let a = Browser::new();
    let b = Browser::new();
    let auth_a = app.start_login(&a, "/me").await;
    let _auth_b = app.start_login(&b, "/me").await;
    let callback_a = app.approve(&a, &auth_a, "alice").await;
    // Login A's state and PKCE verifier (so the code exchange succeeds), login B's nonce:
    // the ID token carries A's nonce and must be refused.
    let mut state = app.open_login_state(&a);
    let other = app.open_login_state(&b);
    assert_ne!(state["nonce"], other["nonce"]);
    state["nonce"] = other["nonce"].clone();
    app.store_login_state(&a, &state);
    let resp = a.get(&callback_a).await;
    assert_refused(&app, &a, &resp, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn idp_error_and_foreign_issuer_are_rejected() {
    let app = start().await;
    let browser = Browser::new();
    let authorize = app.start_login(&browser, "/me").await;
    let state = query(&authorize, "state").unwrap();
    let mut denied = app.url("/.zt/callback");
    denied
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "<script>no</script>")
        .append_pair("state", &state);
    let resp = browser.get(&denied).await;
    assert!(!resp.text().contains("<script>"));
    assert_refused(&app, &browser, &resp, StatusCode::UNAUTHORIZED).await;

    let authorize = app.start_login(&browser, "/me").await;
    let callback = app.approve(&browser, &authorize, "alice").await;
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "iss" {
                "https://evil.example".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    let mut mixed_up = callback.clone();
    mixed_up.query_pairs_mut().clear().extend_pairs(pairs);
    let resp = browser.get(&mixed_up).await;
    assert_refused(&app, &browser, &resp, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn tampered_expired_and_foreign_session_cookies_are_rejected() {
    let app = start().await;
    let browser = Browser::new();
    let later = Timestamp::now() + SignedDuration::from_secs(3600);

    // Control: a well-formed session sealed with the app's keys is accepted.
    app.store_session(&browser, &app.keys, &app.session(later));
    let me = browser.get(&app.url("/me")).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text());
    let info = browser.get(&app.url("/.zt/userinfo")).await;
    assert_eq!(info.status, StatusCode::OK);

    let check_refused = |what: &'static str| {
        let browser = browser.clone();
        let me = app.url("/me");
        let info = app.url("/.zt/userinfo");
        async move {
            let resp = browser.get(&me).await;
            assert_eq!(
                resp.status,
                StatusCode::SEE_OTHER,
                "{what}: {}",
                resp.text()
            );
            assert!(resp.location().starts_with("/.zt/login?rd="), "{what}");
            let resp = browser.get(&info).await;
            assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{what}");
        }
    };

    // Expired: the absolute lifetime is over (the access token inside is still valid).
    let past = Timestamp::now() - SignedDuration::from_secs(1);
    app.store_session(&browser, &app.keys, &app.session(past));
    check_refused("expired").await;

    // Foreign key: sealed by another app's keys.
    let foreign = SessionKeys::generate().unwrap();
    app.store_session(&browser, &foreign, &app.session(later));
    check_refused("foreign").await;

    // Tampered: one bit of the ciphertext flipped.
    app.store_session(&browser, &app.keys, &app.session(later));
    let value = browser.cookie(&app.base, DEFAULT_COOKIE_NAME).unwrap();
    let mut raw = URL_SAFE_NO_PAD.decode(&value).unwrap();
    raw[30] ^= 0x40;
    browser.set_cookie(&app.base, DEFAULT_COOKIE_NAME, &URL_SAFE_NO_PAD.encode(raw));
    check_refused("tampered").await;

    // The login-state cookie's value is no session cookie.
    let login = Browser::new();
    app.start_login(&login, "/").await;
    let state = login.cookie(&app.base, LOGIN_STATE_COOKIE).unwrap();
    browser.set_cookie(&app.base, DEFAULT_COOKIE_NAME, &state);
    check_refused("moved").await;
}

#[tokio::test]
async fn open_redirect_attempts_end_at_the_root() {
    let app = start().await;
    let browser = Browser::new();
    for rd in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example/path",
    ] {
        let resp = app.sign_in(&browser, rd, "alice").await;
        assert_eq!(
            resp.status,
            StatusCode::SEE_OTHER,
            "{rd:?}: {}",
            resp.text()
        );
        assert_eq!(resp.location(), "/", "{rd:?}");
    }
    // A local path is kept, query and all.
    let resp = app.sign_in(&browser, "/me/reports?q=a%20b", "alice").await;
    assert_eq!(resp.location(), "/me/reports?q=a%20b");
}

#[tokio::test]
async fn logout_clears_the_cookie_and_ends_the_idp_session() {
    let app = start().await;
    let browser = Browser::new();
    let done = app.sign_in(&browser, "/me", "alice").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get(&app.url("/me")).await.status, StatusCode::OK);
    let id_token = {
        let value = browser.cookie(&app.base, DEFAULT_COOKIE_NAME).unwrap();
        let session: Session = serde_json::from_slice(
            &app.keys
                .open(&value, DEFAULT_COOKIE_NAME.as_bytes())
                .unwrap(),
        )
        .unwrap();
        session.id_token.unwrap()
    };

    let out = browser.get(&app.url("/.zt/logout")).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.set_cookies()
            .contains(&"__Host-zt-session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax")
    );
    assert!(browser.cookie(&app.base, DEFAULT_COOKIE_NAME).is_none());
    let end_session = Url::parse(out.location()).unwrap();
    assert!(
        end_session
            .as_str()
            .starts_with(&format!("{}/end_session?", app.idp.issuer()))
    );
    assert_eq!(query(&end_session, "id_token_hint"), Some(id_token));
    assert_eq!(
        query(&end_session, "post_logout_redirect_uri").as_deref(),
        Some(app.url("/").as_str())
    );

    // The IdP ends its session and sends the browser back to the app.
    let back = browser.get(&end_session).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.text());
    // (The dev IdP appends an empty query: `/?`.)
    let back = Url::parse(back.location()).unwrap();
    assert_eq!(origin(&back), origin(&app.base));
    assert_eq!(back.path(), "/");
    let me = browser.get(&app.url("/me")).await;
    assert_eq!(me.status, StatusCode::SEE_OTHER);

    // With the IdP session gone, a new login shows the IdP's form again.
    let authorize = app.start_login(&browser, "/me").await;
    let page = browser.get(&authorize).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("development only"));
}

#[tokio::test]
async fn logout_revokes_copied_cookies_and_live_connections() {
    let mut app = start().await;
    let browser = Browser::new();
    app.sign_in(&browser, "/me", "alice").await;
    let copied = browser.cookie(&app.base, DEFAULT_COOKIE_NAME).unwrap();

    // A long-lived (upgrade) request carries a LiveCheck that is allowed now.
    let live_url = app.url("/me/live");
    let upgrade = |cookie: &str| {
        Request::get(live_url.as_str())
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "upgrade")
            .header(header::COOKIE, format!("{DEFAULT_COOKIE_NAME}={cookie}"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let response = browser.client.request(upgrade(&copied)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let live = app.live.recv().await.unwrap();
    assert!(live.is_allowed().await);
    let mut changes = live.changes();

    // Logout revokes the session: the live connection is told at once and denied.
    let out = browser.get(&app.url("/.zt/logout")).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    tokio::time::timeout(std::time::Duration::from_secs(1), changes.changed())
        .await
        .expect("revocation notifies live connections");
    assert!(!live.is_allowed().await);

    // A copy of the cookie taken before logout no longer signs anyone in.
    browser.set_cookie(&app.base, DEFAULT_COOKIE_NAME, &copied);
    let me = browser.get(&app.url("/me")).await;
    assert_eq!(me.status, StatusCode::SEE_OTHER, "{}", me.text());
    assert!(me.location().starts_with("/.zt/login?rd="));
    // (Not a browser navigation: 401 rather than a login redirect.)
    let response = browser.client.request(upgrade(&copied)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_renews_the_access_token() {
    let app = start().await;
    let browser = Browser::new();
    app.sign_in(&browser, "/", "carol").await;
    let value = browser.cookie(&app.base, DEFAULT_COOKIE_NAME).unwrap();
    let session: Session = serde_json::from_slice(
        &app.keys
            .open(&value, DEFAULT_COOKIE_NAME.as_bytes())
            .unwrap(),
    )
    .unwrap();
    let login = LoginConfig::new(
        app.idp.issuer(),
        "zt-dev",
        app.base.as_str(),
        SessionCookie::new(app.keys.clone()),
    )
    .build()
    .await
    .unwrap();
    let mut refreshed = login.refresh(&session).await.unwrap();
    assert_eq!(refreshed.subject, "carol");
    assert_eq!(refreshed.session_id, session.session_id);
    assert_eq!(refreshed.expires_at, session.expires_at);
    assert_ne!(refreshed.access_token, session.access_token);
    assert_ne!(refreshed.refresh_token, session.refresh_token);
    assert!(login.set_cookie(&mut refreshed).is_ok());
    // The old refresh token was rotated out.
    assert!(login.refresh(&session).await.is_err());
}

#[tokio::test]
async fn the_layer_refreshes_sessions_about_to_expire() {
    let app = start().await;
    let browser = Browser::new();
    app.sign_in(&browser, "/", "carol").await;
    let cookie = SessionCookie::new(app.keys.clone());
    let open = |value: &str| -> Session {
        serde_json::from_slice(
            &app.keys
                .open(value, DEFAULT_COOKIE_NAME.as_bytes())
                .unwrap(),
        )
        .unwrap()
    };
    let mut session = open(&browser.cookie(&app.base, DEFAULT_COOKIE_NAME).unwrap());
    // The access token "expires" in 10 s: within the layer's refresh margin.
    session.access_token_expires_at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(10);
    let sealed = cookie.to_set_cookie(&session).unwrap();
    let value = sealed
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    browser.set_cookie(&app.base, DEFAULT_COOKIE_NAME, &value);

    let me = app.base.join("/me").unwrap();
    let resp = browser.get(&me).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.text(), "hello carol");
    let renewed = open(&browser.cookie(&app.base, DEFAULT_COOKIE_NAME).unwrap());
    assert_ne!(renewed.access_token, session.access_token);
    assert_ne!(renewed.refresh_token, session.refresh_token);
    assert!(renewed.access_token_expires_at > session.access_token_expires_at);
    assert_eq!(
        renewed.expires_at, session.expires_at,
        "refresh never extends the session"
    );

    // The old cookie's refresh token was rotated out: that session is signed out.
    browser.set_cookie(&app.base, DEFAULT_COOKIE_NAME, &value);
    let resp = browser.get(&me).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "back to sign-in");
    assert!(
        resp.location().starts_with("/.zt/login?rd=/me"),
        "{}",
        resp.location()
    );
    assert!(
        resp.set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-zt-session=;")),
        "{:?}",
        resp.set_cookies()
    );
}

//! The authorization code flow with mandatory PKCE, refresh rotation, client
//! authentication, userinfo, end_session and HTML escaping, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use common::*;
use http::StatusCode;
use zt_dev_idp::{DevClient, DevIdp};

#[tokio::test]
async fn code_flow_end_to_end_with_refresh_and_userinfo() {
    let idp = start_default().await;
    let http = Http::new();
    let (verifier, challenge) = pkce();
    let (code, cookie) = login(&http, &idp, "alice", &challenge).await;
    assert!(cookie.starts_with("zt_dev_idp_session_"));

    let resp = exchange(&http, &idp, &code, &verifier).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    let body = resp.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "openid profile email groups");

    let at = verify(
        &http,
        &idp,
        body["access_token"].as_str().unwrap(),
        "zt-dev",
    )
    .await;
    assert_eq!(at["sub"], "alice");
    assert_eq!(at["client_id"], "zt-dev");
    assert_eq!(at["preferred_username"], "alice");
    assert_eq!(at["email"], "alice@example.com");
    assert_eq!(at["groups"], serde_json::json!(["engineering", "admins"]));
    for claim in [
        "jti",
        "sid",
        "auth_time",
        "nbf",
        "iat",
        "exp",
        "scope",
        "name",
        "email_verified",
    ] {
        assert!(at.get(claim).is_some(), "access token lacks {claim}");
    }
    let id = verify(&http, &idp, body["id_token"].as_str().unwrap(), "zt-dev").await;
    assert_eq!(id["nonce"], "n0nce");
    assert_eq!(id["azp"], "zt-dev");
    assert_eq!(id["sid"], at["sid"]);
    assert_eq!(id["auth_time"], at["auth_time"]);

    // The code is single use.
    let again = exchange(&http, &idp, &code, &verifier).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.error(), "invalid_grant");

    // Userinfo with the access token; 401 without or with an ID token.
    let bearer = format!("Bearer {}", body["access_token"].as_str().unwrap());
    let ui = http
        .get(
            &format!("{}/userinfo", idp.issuer()),
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(ui.status, StatusCode::OK);
    let ui = ui.json();
    assert_eq!(ui["sub"], "alice");
    assert_eq!(ui["preferred_username"], "alice");
    assert_eq!(ui["email_verified"], true);
    let ui_post = http
        .post(
            &format!("{}/userinfo", idp.issuer()),
            &[],
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(ui_post.status, StatusCode::OK);
    let none = http.get(&format!("{}/userinfo", idp.issuer()), &[]).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(
        none.header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let id_bearer = format!("Bearer {}", body["id_token"].as_str().unwrap());
    let wrong = http
        .get(
            &format!("{}/userinfo", idp.issuer()),
            &[("authorization", &id_bearer)],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let forged = idp
        .sign_claims(zt_dev_idp::SigningAlg::Es256, &serde_json::json!({"iss": "http://evil", "sub": "alice", "client_id": "zt-dev", "exp": u64::MAX / 2}))
        .unwrap();
    let wrong = http
        .get(
            &format!("{}/userinfo", idp.issuer()),
            &[("authorization", &format!("Bearer {forged}"))],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    // Refresh rotates: new token works, old one is dead; auth_time and sid are kept.
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |token: String| {
        let http = http.clone();
        let url = format!("{}/token", idp.issuer());
        async move {
            http.post(
                &url,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &token),
                    ("client_id", "zt-dev"),
                ],
                &[],
            )
            .await
        }
    };
    let r1 = refresh(rt.clone()).await;
    assert_eq!(r1.status, StatusCode::OK, "{}", r1.text());
    let r1 = r1.json();
    let rt2 = r1["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt, rt2);
    let at2 = verify(&http, &idp, r1["access_token"].as_str().unwrap(), "zt-dev").await;
    assert_eq!(at2["auth_time"], at["auth_time"]);
    assert_eq!(at2["sid"], at["sid"]);
    let id2 = verify(&http, &idp, r1["id_token"].as_str().unwrap(), "zt-dev").await;
    assert_eq!(id2["auth_time"], id["auth_time"]);
    let old = refresh(rt).await;
    assert_eq!(old.status, StatusCode::BAD_REQUEST);
    assert_eq!(old.error(), "invalid_grant");
    assert_eq!(refresh(rt2).await.status, StatusCode::OK);

    idp.shutdown().await;
}

#[tokio::test]
async fn wrong_verifier_and_mismatched_redirect_are_rejected() {
    let idp = start_default().await;
    let http = Http::new();
    let (_verifier, challenge) = pkce();
    let (code, _) = login(&http, &idp, "bob", &challenge).await;
    let (other_verifier, _) = pkce();
    let resp = exchange(&http, &idp, &code, &other_verifier).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(resp.error(), "invalid_grant");

    let (verifier, challenge) = pkce();
    let (code, _) = login(&http, &idp, "bob", &challenge).await;
    let resp = http
        .post(
            &format!("{}/token", idp.issuer()),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:4321/other"),
                ("client_id", "zt-dev"),
                ("code_verifier", &verifier),
            ],
            &[],
        )
        .await;
    assert_eq!(resp.error(), "invalid_grant");

    let resp = http
        .post(
            &format!("{}/token", idp.issuer()),
            &[("grant_type", "password"), ("client_id", "zt-dev")],
            &[],
        )
        .await;
    assert_eq!(resp.error(), "unsupported_grant_type");
    let resp = http
        .post(
            &format!("{}/token", idp.issuer()),
            &[("grant_type", "authorization_code")],
            &[],
        )
        .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert_eq!(resp.error(), "invalid_client");
    idp.shutdown().await;
}

#[tokio::test]
async fn pkce_is_mandatory_and_s256_only() {
    let idp = start_default().await;
    let http = Http::new();
    let (_, challenge) = pkce();
    for extra in [
        vec![
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "plain"),
        ],
        vec![("code_challenge", challenge.as_str())],
        vec![("code_challenge_method", "S256")],
        vec![],
    ] {
        let resp = http.get(&authorize_url(&idp, &extra), &[]).await;
        assert_eq!(resp.status, StatusCode::SEE_OTHER, "{extra:?}");
        let loc = resp.location();
        assert!(loc.as_str().starts_with(REDIRECT));
        assert_eq!(
            query_param(&loc, "error").as_deref(),
            Some("invalid_request")
        );
        assert_eq!(query_param(&loc, "state").as_deref(), Some("st4te"));
        assert_eq!(query_param(&loc, "iss").as_deref(), Some(idp.issuer()));
        assert!(query_param(&loc, "code").is_none());
    }
    // Missing openid scope.
    let url = authorize_url(
        &idp,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .replace("scope=openid+", "scope=");
    let loc = http.get(&url, &[]).await.location();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_scope"));
    idp.shutdown().await;
}

#[tokio::test]
async fn unregistered_redirect_uri_and_unknown_client_are_never_redirected_to() {
    let idp = DevIdp::builder()
        .banner(false)
        .client(DevClient::confidential("app", "s3cret").redirect_uri("https://app.example/cb"))
        .start()
        .await
        .unwrap();
    let http = Http::new();
    let (_, challenge) = pkce();
    for (client, redirect) in [
        ("app", "https://evil.example/cb"),
        ("app", "http://127.0.0.1:4321/callback"), // loopback not allowed for this client
        ("nope", "https://app.example/cb"),
    ] {
        let url = format!(
            "{}/authorize?{}",
            idp.issuer(),
            form(&[
                ("response_type", "code"),
                ("client_id", client),
                ("redirect_uri", redirect),
                ("scope", "openid"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
        );
        let resp = http.get(&url, &[]).await;
        assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{client} {redirect}");
        assert!(resp.header("location").is_none());
        assert!(resp.text().contains("development only"));
    }
    // Wrong response_type with a valid redirect: error goes back to the client.
    let url = format!(
        "{}/authorize?{}",
        idp.issuer(),
        form(&[
            ("response_type", "token"),
            ("client_id", "app"),
            ("redirect_uri", "https://app.example/cb"),
            ("scope", "openid"),
        ])
    );
    let loc = http.get(&url, &[]).await.location();
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("unsupported_response_type")
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn hostile_state_is_escaped_in_the_login_page() {
    let idp = start_default().await;
    let http = Http::new();
    let (_, challenge) = pkce();
    let hostile = r#""><script>alert('x')</script>"#;
    let url = format!(
        "{}/authorize?{}",
        idp.issuer(),
        form(&[
            ("response_type", "code"),
            ("client_id", "zt-dev"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", hostile),
            ("nonce", hostile),
            ("login_hint", hostile),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
    );
    let resp = http.get(&url, &[]).await;
    assert_eq!(resp.status, StatusCode::OK);
    let html = resp.text();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&quot;&gt;&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"));
    // One button per dev user.
    for u in ["alice", "bob", "carol", "dave"] {
        assert!(html.contains(&format!("name=\"username\" value=\"{u}\"")));
    }
    idp.shutdown().await;
}

#[tokio::test]
async fn session_cookie_gives_single_sign_on_unless_prompt_login() {
    let idp = start_default().await;
    let http = Http::new();
    let (verifier, challenge) = pkce();
    let (_, cookie) = login(&http, &idp, "carol", &challenge).await;
    let pkce_params = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];

    let resp = http
        .get(&authorize_url(&idp, &pkce_params), &[("cookie", &cookie)])
        .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    let code = query_param(&resp.location(), "code").expect("code issued from the session");
    let tokens = exchange(&http, &idp, &code, &verifier).await.json();
    let at = verify(
        &http,
        &idp,
        tokens["access_token"].as_str().unwrap(),
        "zt-dev",
    )
    .await;
    assert_eq!(at["sub"], "carol");

    let mut with_login = pkce_params.to_vec();
    with_login.push(("prompt", "login"));
    let resp = http
        .get(&authorize_url(&idp, &with_login), &[("cookie", &cookie)])
        .await;
    assert_eq!(resp.status, StatusCode::OK);

    // prompt=none without a session.
    let mut none = pkce_params.to_vec();
    none.push(("prompt", "none"));
    let loc = http.get(&authorize_url(&idp, &none), &[]).await.location();
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("login_required")
    );

    // end_session clears the cookie, revokes the session's refresh tokens, and redirects
    // only to an acceptable URI.
    let url = format!(
        "{}/end_session?{}",
        idp.issuer(),
        form(&[
            ("id_token_hint", tokens["id_token"].as_str().unwrap()),
            ("post_logout_redirect_uri", "http://127.0.0.1:4321/bye"),
            ("state", "s1"),
        ])
    );
    let resp = http.get(&url, &[("cookie", &cookie)]).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    let loc = resp.location();
    assert_eq!(loc.path(), "/bye");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("s1"));
    let set_cookie = resp.header("set-cookie").unwrap();
    assert!(set_cookie.contains("Max-Age=0"));
    let resp = http
        .get(&authorize_url(&idp, &pkce_params), &[("cookie", &cookie)])
        .await;
    assert_eq!(resp.status, StatusCode::OK, "session must be gone");
    let refreshed = http
        .post(
            &format!("{}/token", idp.issuer()),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ("client_id", "zt-dev"),
            ],
            &[],
        )
        .await;
    assert_eq!(refreshed.error(), "invalid_grant");

    let url = format!(
        "{}/end_session?{}",
        idp.issuer(),
        form(&[
            ("post_logout_redirect_uri", "https://evil.example/"),
            ("client_id", "zt-dev")
        ])
    );
    let resp = http.get(&url, &[]).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.header("location").is_none());
    assert!(resp.text().contains("signed out"));
    idp.shutdown().await;
}

#[tokio::test]
async fn confidential_client_authenticates_with_basic_or_post() {
    let redirect = "https://app.example/cb";
    let idp = DevIdp::builder()
        .banner(false)
        .client(DevClient::confidential("app", "s3cret:x").redirect_uri(redirect))
        .access_token_audience("api://zt")
        .start()
        .await
        .unwrap();
    let http = Http::new();
    let token_url = format!("{}/token", idp.issuer());

    async fn code_for(http: &Http, idp: &zt_dev_idp::RunningDevIdp, challenge: &str) -> String {
        let resp = http
            .post(
                &format!("{}/authorize", idp.issuer()),
                &[
                    ("response_type", "code"),
                    ("client_id", "app"),
                    ("redirect_uri", "https://app.example/cb"),
                    ("scope", "openid offline_access"),
                    ("code_challenge", challenge),
                    ("code_challenge_method", "S256"),
                    ("username", "dave"),
                ],
                &[],
            )
            .await;
        assert_eq!(resp.status, StatusCode::SEE_OTHER);
        query_param(&resp.location(), "code").unwrap()
    }

    // client_secret_basic (the secret is form-encoded before base64, RFC 6749 §2.3.1).
    let (verifier, challenge) = pkce();
    let code = code_for(&http, &idp, &challenge).await;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("app:s3cret%3Ax")
    );
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", verifier.as_str()),
    ];
    let resp = http
        .post(&token_url, &params, &[("authorization", &basic)])
        .await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let at = verify(
        &http,
        &idp,
        resp.json()["access_token"].as_str().unwrap(),
        "api://zt",
    )
    .await;
    assert_eq!(at["client_id"], "app");
    assert_eq!(at["sub"], "dave");

    // client_secret_post.
    let (verifier, challenge) = pkce();
    let code = code_for(&http, &idp, &challenge).await;
    let mut params = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", verifier.as_str()),
        ("client_id", "app"),
        ("client_secret", "s3cret:x"),
    ];
    let resp = http.post(&token_url, &params, &[]).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());

    // Wrong secret (post) and wrong secret (basic, with challenge); missing secret.
    params[5] = ("client_secret", "wrong");
    let resp = http.post(&token_url, &params, &[]).await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert_eq!(resp.error(), "invalid_client");
    let bad_basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("app:nope")
    );
    let resp = http
        .post(&token_url, &params[..4], &[("authorization", &bad_basic)])
        .await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert!(
        resp.header("www-authenticate")
            .unwrap()
            .starts_with("Basic")
    );
    let resp = http.post(&token_url, &params[..5], &[]).await;
    assert_eq!(resp.error(), "invalid_client");
    idp.shutdown().await;
}

#[tokio::test]
async fn issuer_with_a_path_serves_endpoints_under_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let idp = DevIdp::builder()
        .banner(false)
        .bind(addr)
        .issuer(format!("http://{addr}/realms/dev/"))
        .start()
        .await
        .unwrap();
    assert_eq!(idp.issuer(), format!("http://{addr}/realms/dev"));
    let http = Http::new();
    let doc = http.get(&idp.discovery_url(), &[]).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(
        doc.json()["jwks_uri"],
        format!("http://{addr}/realms/dev/jwks")
    );
    let (verifier, challenge) = pkce();
    let (code, _) = login(&http, &idp, "alice", &challenge).await;
    assert_eq!(
        exchange(&http, &idp, &code, &verifier).await.status,
        StatusCode::OK
    );
    idp.shutdown().await;
}

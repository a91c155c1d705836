//! Signing in to the web front end with OpenID Connect, as people in production do: the
//! authorization code flow with PKCE against a real provider (panva's oidc-provider, its
//! own login page), whose access token every service of a `cspr serve all` then verifies
//! through the provider's JWKS. No development secret is set: there is no other way in.

mod common;

use common::Isolated;
use common::web::{Browser, Site, assert_contains, runtime};
use cspr_platform::testing::{self, OidcClient, OidcProvider};
use reqwest::StatusCode;
use serde_json::json;

/// The services' audience: the resource the web asks the provider for.
const RESOURCE: &str = "urn:cspr:web-test";
const CLIENT: &str = "cspr-web";
const SECRET: &str = "cspr-web-client-secret-0123456789abcdef";

/// Where the provider page's form posts, as an absolute URL.
fn form_action(issuer: &str, html: &str) -> String {
    let marker = "action=\"";
    let start = html.find(marker).expect("a form") + marker.len();
    let end = html[start..].find('"').expect("action's end");
    let action = html[start..start + end].replace("&amp;", "&");
    if action.starts_with("http") {
        action
    } else {
        format!("{issuer}{action}")
    }
}

#[test]
fn a_person_signs_in_at_the_partnerships_identity_provider() {
    testing::init();
    let runtime = runtime();
    let port = testing::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let provider = runtime.block_on(OidcProvider::start_with_accounts(
        RESOURCE,
        "RS256",
        vec![OidcClient {
            id: CLIENT.into(),
            secret: SECRET.into(),
            claims: json!({}),
            redirect_uris: vec![format!("{base}/sign-in/callback")],
        }],
        json!({
            "ann": {"partnership": "southvale", "roles": ["partnership_admin"]},
        }),
    ));
    let (issuer, jwks) = (provider.issuer.clone(), provider.jwks_url());
    let site = Site::start_on(Isolated::new(), port, |command| {
        command
            .env_remove("CSPR_AUTH_HS256_SECRET")
            .env("CSPR_AUTH_JWKS_URL", &jwks)
            .env("CSPR_AUTH_ISSUER", &issuer)
            .env("CSPR_AUTH_AUDIENCE", RESOURCE)
            .env("CSPR_WEB_PUBLIC_URL", &base)
            .env("CSPR_WEB_OIDC_ISSUER", &issuer)
            .env("CSPR_WEB_OIDC_CLIENT_ID", CLIENT)
            .env("CSPR_WEB_OIDC_CLIENT_SECRET", SECRET)
            .env("CSPR_WEB_OIDC_SCOPE", "openid cspr")
            // Without the development secret, the family service needs a real data key.
            .env("CSPR_FAMILY_DATA_KEY", format!("k1:{}", "7e".repeat(32)));
    });
    runtime.block_on(async {
        let mut browser = Browser::new(&site);
        let page = browser.get("/sign-in").await.ok();
        assert!(page.contains("Sign in with your partnership"), "{page}");
        assert!(!page.contains("development sign-in"), "{page}");

        // Off to the provider with a state and a PKCE challenge.
        let started = browser.get("/sign-in/oidc").await;
        let authorize = started.redirected().to_string();
        assert!(
            authorize.starts_with(&format!("{issuer}/auth?")),
            "{authorize}"
        );
        assert_contains(
            &authorize,
            &[
                "code_challenge_method=S256",
                "code_challenge=",
                "state=",
                "resource=",
            ],
        );

        // At the provider's own pages, as the person: log in, agree, and be sent back. The
        // provider's client keeps the provider's cookies and stops at the web.
        let at_provider = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.url().port() == Some(port) {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .expect("client");
        let login = at_provider
            .get(&authorize)
            .send()
            .await
            .expect("authorize")
            .text()
            .await
            .expect("login page");
        assert!(login.contains("name=\"login\""), "{login}");
        let consent = at_provider
            .post(form_action(&issuer, &login))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("prompt=login&login=ann&password=any")
            .send()
            .await
            .unwrap_or_else(|error| panic!("login: {error}; provider: {}", provider.log()))
            .text()
            .await
            .expect("consent page");
        assert!(consent.contains("value=\"consent\""), "{consent}");
        let back = at_provider
            .post(form_action(&issuer, &consent))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("prompt=consent")
            .send()
            .await
            .expect("consent");
        assert!(back.status().is_redirection(), "{}", back.status());
        let callback = back
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .expect("sent back")
            .to_string();
        let path = callback
            .strip_prefix(&base)
            .unwrap_or_else(|| panic!("back to the web: {callback}"))
            .to_string();
        assert!(path.starts_with("/sign-in/callback?code="), "{path}");

        // Another browser cannot use the answer: it never started this sign-in.
        let mut stranger = Browser::new(&site);
        let refused = stranger.get(&path).await;
        assert_eq!(refused.redirected(), "/sign-in?failed=1");
        assert!(!stranger.has_session());

        // The browser that asked is signed in, as the provider's account.
        let signed = browser.get(&path).await.ok();
        assert!(signed.contains("You are signed in"), "{signed}");
        assert!(browser.has_session());
        let form = browser.get("/reviews/new").await.ok();
        assert!(
            form.contains("Record a serious incident"),
            "the role from the provider: {form}"
        );
        let marker = "name=\"request_id\" value=\"";
        let at = form.find(marker).expect("request id") + marker.len();
        let today = chrono::Utc::now().date_naive();
        let (day, month, year) = {
            use chrono::Datelike;
            (
                today.day().to_string(),
                today.month().to_string(),
                today.year().to_string(),
            )
        };
        let created = browser
            .post(
                "/reviews/new",
                &[
                    ("request_id", form[at..at + 36].to_string()),
                    ("child_alias", "Child O".into()),
                    ("local_authority", "Southvale Council".into()),
                    ("incident_date-day", day.clone()),
                    ("incident_date-month", month.clone()),
                    ("incident_date-year", year.clone()),
                    ("became_aware_on-day", day),
                    ("became_aware_on-month", month),
                    ("became_aware_on-year", year),
                ],
            )
            .await;
        assert!(
            created.redirected().starts_with("/reviews/"),
            "{}",
            created.html
        );
        let dashboard = browser.get("/").await.ok();
        assert!(
            dashboard.contains("Child O") && dashboard.contains("Reviews of southvale"),
            "the registry took the provider's token, to write and to read: {dashboard}"
        );
        assert!(
            dashboard.contains("ann (southvale: partnership_admin)"),
            "{dashboard}"
        );

        // The same answer again is nothing: each sign-in is used once.
        let mut again = browser.clone();
        let replayed = again.get(&path).await;
        assert_eq!(replayed.redirected(), "/sign-in?failed=1");

        // Signing out ends the session.
        let out = browser.post("/sign-out", &[]).await;
        assert!(out.status.is_redirection(), "{}", out.html);
        assert_eq!(browser.get("/").await.redirected(), "/sign-in");
        assert_eq!(
            browser.get("/sign-in").await.status,
            StatusCode::OK,
            "the sign-in page again"
        );
    });
    drop(site);
    drop(provider);
}

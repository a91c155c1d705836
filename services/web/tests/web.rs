//! The web front end over real HTTP, in front of the real registry (its own database and
//! subject prefix, through the platform's test harness): sign-in and its session cookie,
//! CSRF, the dashboard and a review page from reviews made through the registry's gRPC API,
//! escaping, security headers, refusals as pages, and GOV.UK Frontend's files.

use std::time::Duration;

use cspr_platform::config::Env;
use cspr_platform::testing::{self, PARTNERSHIP, Reply, TestApp, TestSetup, authed, date, pdate};
use cspr_proto::registry::v1 as pb;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_registry::config::RegistryConfig;
use cspr_registry::domain::deadlines::DeadlineRules;
use cspr_registry::store::Store;
use cspr_web::config::ServiceUrls;
use cspr_web::{RunningWeb, WebConfig};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

type TestRegistry = TestApp<ReviewRegistryClient<Channel>, Store>;

/// The registry, the web in front of it, and a browser-like client that follows no
/// redirects (the tests look at them).
struct Site {
    registry: TestRegistry,
    web: RunningWeb,
    shutdown: CancellationToken,
    http: reqwest::Client,
    base: String,
}

fn web_config(registry_url: String, development_auth: bool, registry: &TestRegistry) -> WebConfig {
    WebConfig {
        addr: "127.0.0.1:0".parse().expect("address"),
        public_url: "http://localhost:8080".into(),
        idle_timeout: Duration::from_secs(1800),
        services: ServiceUrls {
            registry: registry_url,
            ..ServiceUrls::from_env(&Env::isolated([("", "")]))
        },
        client_tls: Default::default(),
        dashboards_url: "http://localhost:3000".into(),
        development_auth: development_auth.then(|| registry.platform.auth.clone()),
        oidc: None,
    }
}

impl Site {
    async fn start() -> Self {
        Self::start_with(true, None).await
    }

    /// With the development sign-in or without; the registry URL the web calls, if not the
    /// registry's own.
    async fn start_with(development_auth: bool, registry_url: Option<String>) -> Self {
        let setup = TestSetup::new(cspr_registry::SERVICE_NAME, date("2026-03-20")).await;
        let config = RegistryConfig {
            rules: DeadlineRules::default(),
            sweep_interval: Duration::from_secs(3600),
        };
        let rules = config.rules.clone();
        let registry: TestRegistry = setup
            .serve_app(
                cspr_registry::GRPC_NAME,
                |context| cspr_registry::start(context, config),
                ReviewRegistryClient::new,
                |parts| Store::new(parts, rules),
            )
            .await;
        let url = registry_url.unwrap_or_else(|| format!("http://{}", registry.addr));
        let shutdown = CancellationToken::new();
        let web = cspr_web::start(
            web_config(url, development_auth, &registry),
            shutdown.clone(),
        )
        .await
        .expect("web starts");
        // The tree's one TLS provider, as the services use (reqwest has none of its own).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let base = format!("http://{}", web.addr);
        Self {
            registry,
            web,
            shutdown,
            http,
            base,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.web.stopped().await.expect("web stops cleanly");
        self.registry.stop().await;
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        request.send().await.expect("GET answered")
    }

    async fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        if let Some(cookie) = cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        request.send().await.expect("POST answered")
    }

    /// The development sign-in as a person does it: the form, then its submission. The
    /// signed-in session's cookie (`name=value`) and its CSRF token.
    async fn sign_in(&self, roles: &[&str]) -> (String, String) {
        let form = self.get("/sign-in", None).await;
        assert_eq!(form.status(), StatusCode::OK);
        let anonymous = session_cookie(form.headers()).expect("the form starts a session");
        let csrf = csrf_token(&form.text().await.expect("body"));
        let mut fields = vec![
            ("csrf_token", csrf.as_str()),
            ("name", "alice-admin"),
            ("partnership", PARTNERSHIP),
        ];
        fields.extend(roles.iter().map(|role| ("roles", *role)));
        let signed_in = self.post("/sign-in", Some(&anonymous), &fields).await;
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        assert_eq!(signed_in.headers()[LOCATION], "/");
        let cookie = session_cookie(signed_in.headers()).expect("a new session on sign-in");
        assert_ne!(cookie, anonymous, "the session id changes on sign-in");
        let mut home = self.get("/", Some(&cookie)).await;
        // The operations team and agency leads start on their own pages.
        if home.status() == StatusCode::SEE_OTHER {
            let elsewhere = home.headers()[LOCATION].to_str().expect("text").to_string();
            home = self.get(&elsewhere, Some(&cookie)).await;
        }
        let csrf = csrf_token(&home.text().await.expect("body"));
        (cookie, csrf)
    }

    async fn create_review(&self, alias: &str) -> pb::Review {
        self.registry
            .client
            .clone()
            .create_review(authed(
                pb::CreateReviewRequest {
                    request_id: uuid::Uuid::new_v4().to_string(),
                    child_alias: alias.into(),
                    local_authority: "Southvale Council".into(),
                    incident_date: pdate("2026-03-09"),
                    became_aware_on: pdate("2026-03-10"),
                },
                &self.registry.role_token("partnership_admin"),
            ))
            .await
            .reply("create review")
    }
}

/// The `cspr_session=…` pair of a response's `Set-Cookie`.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("cspr_session="))
        .and_then(|value| value.split(';').next())
        .map(str::to_string)
}

fn csrf_token(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[start..].split('"').next().expect("value").to_string()
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_the_session() {
    let site = Site::start().await;
    let form = site.get("/sign-in", None).await;
    let set_cookie = form.headers()[SET_COOKIE]
        .to_str()
        .expect("text")
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "plain http here: {set_cookie}"
    );
    let body = form.text().await.expect("body");
    assert!(body.contains("This is a development sign-in"), "{body}");

    let (cookie, csrf) = site.sign_in(&["partnership_admin"]).await;
    let dashboard = site.get("/", Some(&cookie)).await;
    assert_eq!(dashboard.status(), StatusCode::OK);
    assert!(
        dashboard
            .text()
            .await
            .expect("body")
            .contains("alice-admin (southvale: partnership_admin)")
    );

    let out = site
        .post("/sign-out", Some(&cookie), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        out.headers()[SET_COOKIE]
            .to_str()
            .expect("text")
            .contains("Max-Age=0")
    );
    let after = site.get("/", Some(&cookie)).await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "the session is gone");
    assert_eq!(after.headers()[LOCATION], "/sign-in");
    site.stop().await;
}

#[tokio::test]
async fn a_post_without_the_sessions_csrf_token_is_refused() {
    let site = Site::start().await;
    let (cookie, csrf) = site.sign_in(&["partnership_admin"]).await;
    let missing = site.post("/sign-out", Some(&cookie), &[]).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert!(
        missing
            .text()
            .await
            .expect("body")
            .contains("Your form could not be accepted")
    );
    let wrong = "0".repeat(64);
    let forged = site
        .post("/sign-out", Some(&cookie), &[("csrf_token", &wrong)])
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // The sign-in form too: another session's token is not this one's.
    let anonymous = session_cookie(site.get("/sign-in", None).await.headers()).expect("session");
    let other = site
        .post(
            "/sign-in",
            Some(&anonymous),
            &[
                ("csrf_token", &csrf),
                ("name", "x"),
                ("partnership", PARTNERSHIP),
                ("roles", "auditor"),
            ],
        )
        .await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    let no_session = site.post("/sign-in", None, &[("csrf_token", &csrf)]).await;
    assert_eq!(no_session.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        site.get("/", Some(&cookie)).await.status(),
        StatusCode::OK,
        "still signed in"
    );
    site.stop().await;
}

#[tokio::test]
async fn the_dashboard_lists_and_pages_the_partnerships_reviews_and_escapes_them() {
    let site = Site::start().await;
    let hostile = site.create_review("<script>alert(1)</script>").await;
    for index in 0..cspr_web_page_size() {
        site.create_review(&format!("Child {index}")).await;
    }
    let (cookie, _) = site.sign_in(&["partnership_admin"]).await;
    let first = site.get("/", Some(&cookie)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let html = first.text().await.expect("body");
    assert_eq!(
        html.matches("href=\"/reviews/").count() - html.matches("href=\"/reviews/new\"").count(),
        cspr_web_page_size(),
        "one page"
    );
    assert!(html.contains("Child 19"), "newest first");
    assert!(html.contains("Notification"), "the next statutory deadline");
    assert!(html.contains("govuk-tag"), "its status as a tag");
    let next_marker = "class=\"govuk-link govuk-pagination__link\" href=\"";
    let start = html.find(next_marker).expect("a Next link") + next_marker.len();
    let next = html[start..]
        .split('"')
        .next()
        .expect("href")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    let second = site
        .get(&next, Some(&cookie))
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(
        second.matches("href=\"/reviews/").count()
            - second.matches("href=\"/reviews/new\"").count(),
        1,
        "the rest"
    );
    assert!(second.contains("&lt;script&gt;alert(1)&lt;"), "{second}");
    assert!(!second.contains("<script>alert"), "never as markup");

    let filtered = site
        .get("/?stage=STAGE_SCOPING", Some(&cookie))
        .await
        .text()
        .await
        .expect("body");
    assert!(filtered.contains("No reviews at this stage"), "{filtered}");

    let page = site
        .get(&format!("/reviews/{}", hostile.id), Some(&cookie))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("body");
    assert!(page.contains(&hostile.reference));
    assert!(page.contains("Southvale Council"));
    assert!(page.contains("Statutory deadlines"));
    assert!(page.contains("10 March 2026"), "became aware on");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;"));
    assert!(!page.contains("<script>alert"));

    let missing = site
        .get(&format!("/reviews/{}", uuid::Uuid::now_v7()), Some(&cookie))
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing
            .text()
            .await
            .expect("body")
            .contains("Page not found")
    );
    site.stop().await;
}

fn cspr_web_page_size() -> usize {
    20
}

#[tokio::test]
async fn the_health_probe_answers_without_making_a_session() {
    let site = Site::start().await;
    let response = site.get("/healthz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        session_cookie(response.headers()).is_none(),
        "a probe every few seconds must not fill the session table"
    );
    assert_eq!(response.text().await.expect("body"), "ok");
    site.stop().await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let site = Site::start().await;
    for path in [
        "/sign-in",
        "/",
        "/no-such-page",
        "/assets/govuk-frontend.min.css",
    ] {
        let response = site.get(path, None).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().expect("text");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        let cache = headers["cache-control"].to_str().expect("text");
        if path.starts_with("/assets/") {
            assert!(cache.starts_with("public"), "{path}: {cache}");
        } else {
            assert_eq!(cache, "no-store", "{path}: pages are never cached");
        }
    }
    site.stop().await;
}

#[tokio::test]
async fn signed_out_pages_redirect_to_sign_in_and_refusals_read_as_pages() {
    let site = Site::start().await;
    for path in ["/", "/reviews/anything"] {
        let response = site.get(path, None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()[LOCATION], "/sign-in", "{path}");
    }
    // Operations may not read reviews: sent on from the dashboard to their own page, and a
    // review's page is the registry's PERMISSION_DENIED as a page.
    let (cookie, _) = site.sign_in(&["operations"]).await;
    let home = site.get("/", Some(&cookie)).await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(home.headers()[LOCATION], "/operations");
    let refused = site
        .get(
            "/reviews/01a23ada-faa2-7736-a189-05911baed03d",
            Some(&cookie),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("You do not have access to this page")
    );
    // Not a UUID: the registry's field error, shown.
    let (admin, _) = site.sign_in(&["partnership_admin"]).await;
    let invalid = site.get("/reviews/not-a-uuid", Some(&admin)).await;
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    assert!(invalid.text().await.expect("body").contains("review_id"));
    site.stop().await;
}

#[tokio::test]
async fn a_registry_that_cannot_be_reached_is_a_try_again_page() {
    let closed = format!("http://127.0.0.1:{}", testing::free_port());
    let site = Site::start_with(true, Some(closed)).await;
    let (cookie, _) = site.sign_in(&["partnership_admin"]).await;
    let response = site.get("/", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("Sorry, there is a problem with the service")
    );
    site.stop().await;
}

#[tokio::test]
async fn without_the_development_secret_there_is_no_sign_in_to_use() {
    let site = Site::start_with(false, None).await;
    let form = site.get("/sign-in", None).await;
    let anonymous = session_cookie(form.headers()).expect("session");
    let body = form.text().await.expect("body");
    assert!(
        body.contains("This service has no sign-in configured"),
        "{body}"
    );
    assert!(!body.contains("development sign-in:"), "{body}");
    assert!(!body.contains("name=\"csrf_token\""), "no form");
    site.stop().await;
    drop(anonymous);
}

#[tokio::test]
async fn govuk_frontend_is_served_with_its_fonts_and_cache_headers() {
    let site = Site::start().await;
    let css = site.get("/assets/govuk-frontend.min.css", None).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .expect("text")
            .contains("max-age=")
    );
    let css = css.text().await.expect("body");
    assert!(css.contains(".govuk-header"));
    // The fonts the stylesheet asks for are there.
    let start = css.find("/assets/fonts/").expect("a font url");
    let font = css[start..]
        .split(&[')', '"', '\''][..])
        .next()
        .expect("path");
    let font = site.get(font, None).await;
    assert_eq!(font.status(), StatusCode::OK, "{font:?}");
    for path in [
        "/assets/govuk-frontend.min.js",
        "/assets/cspr-init.js",
        "/assets/images/favicon.svg",
    ] {
        assert_eq!(
            site.get(path, None).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    assert_eq!(
        site.get("/assets/nothing.css", None).await.status(),
        StatusCode::NOT_FOUND
    );
    site.stop().await;
}

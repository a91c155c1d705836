//! The web front end of a `cspr serve all`, driven over HTTP as a browser would (a cookie,
//! the CSRF token of the session, redirects looked at): what the page suites share.
//! The real-browser suite drives Chromium instead; this is for checking each page's
//! answers and refusals quickly.

use std::time::Duration;

use cspr_platform::testing;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use super::{Isolated, Server};

/// A whole deployment (`cspr serve all`, isolated) with its web front end on a port of its
/// own, serving.
pub struct Site {
    pub isolated: Isolated,
    pub server: Server,
    /// The web's base URL, e.g. `http://127.0.0.1:41234`.
    pub base: String,
}

impl Site {
    /// Starts `isolated` (after the test added its settings) and waits for every service
    /// and the web.
    pub fn start(isolated: Isolated) -> Self {
        Self::start_on(isolated, testing::free_port(), |_| {})
    }

    /// [`Site::start`] with the web on `port`, after `configure` changed the command (e.g.
    /// another way of signing in than the development one).
    pub fn start_on(
        isolated: Isolated,
        port: u16,
        configure: impl FnOnce(&mut std::process::Command),
    ) -> Self {
        let mut command = isolated.serve_command();
        command.env("CSPR_WEB_ADDR", format!("127.0.0.1:{port}"));
        configure(&mut command);
        let server = Server::spawn(&mut command);
        isolated.wait_serving();
        let base = format!("http://127.0.0.1:{port}");
        testing::eventually_blocking("the web answers", testing::DEADLINE, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Self {
            isolated,
            server,
            base,
        }
    }

    /// The gRPC URL of `service`, for setting things up through the API.
    pub fn grpc(&self, service: &str) -> String {
        format!("http://{}", self.isolated.addr(service))
    }
}

/// A page as the browser got it.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    /// Where a redirect goes.
    pub location: Option<String>,
    pub html: String,
}

impl Page {
    /// The page's HTML, after checking it is a 200.
    pub fn ok(self) -> String {
        assert_eq!(self.status, StatusCode::OK, "{}", self.html);
        self.html
    }

    /// Where the redirect goes, after checking it is one.
    pub fn redirected(&self) -> &str {
        assert!(
            self.status.is_redirection(),
            "expected a redirect, got {}: {}",
            self.status,
            self.html
        );
        self.location.as_deref().unwrap_or_default()
    }
}

/// One person's browser: their session cookie and its CSRF token (a clone is another tab).
#[derive(Clone)]
pub struct Browser {
    http: reqwest::Client,
    base: String,
    /// The cookies this site set, by name.
    cookies: std::collections::BTreeMap<String, String>,
    csrf: String,
}

impl Browser {
    /// A browser with no session yet.
    pub fn new(site: &Site) -> Self {
        // The tree's one TLS provider (reqwest is built without one of its own).
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            base: site.base.clone(),
            cookies: std::collections::BTreeMap::new(),
            csrf: String::new(),
        }
    }

    /// Signed in through the development sign-in page as `name` of "southvale".
    pub async fn signed_in(site: &Site, name: &str, roles: &[&str], org: Option<&str>) -> Self {
        let mut browser = Self::new(site);
        browser.get("/sign-in").await.ok();
        let mut fields = vec![
            ("name", name.to_string()),
            ("partnership", "southvale".to_string()),
            ("org", org.unwrap_or_default().to_string()),
        ];
        fields.extend(roles.iter().map(|role| ("roles", role.to_string())));
        let signed = browser.post("/sign-in", &fields).await;
        assert_eq!(signed.redirected(), "/", "{}", signed.html);
        // The signed-in session's own CSRF token, from its first page (an agency lead's and
        // the operations team's are their own pages).
        let home = browser.get("/").await;
        if let Some(elsewhere) = home
            .status
            .is_redirection()
            .then_some(home.location)
            .flatten()
        {
            browser.get(&elsewhere).await;
        }
        browser
    }

    /// GET `path`; the session's CSRF token is read from the page.
    pub async fn get(&mut self, path: &str) -> Page {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = self.cookie() {
            request = request.header(COOKIE, cookie);
        }
        self.page(request.send().await.expect("GET")).await
    }

    /// POST the form `fields` (with the session's CSRF token) to `path`.
    pub async fn post(&mut self, path: &str, fields: &[(&str, String)]) -> Page {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair("csrf_token", &self.csrf);
        for (name, value) in fields {
            body.append_pair(name, value);
        }
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.finish());
        if let Some(cookie) = self.cookie() {
            request = request.header(COOKIE, cookie);
        }
        self.page(request.send().await.expect("POST")).await
    }

    /// [`Browser::post`] of fields built at run time (names as owned strings).
    pub async fn post_pairs(&mut self, path: &str, fields: &[(String, String)]) -> Page {
        let fields: Vec<(&str, String)> = fields
            .iter()
            .map(|(name, value)| (name.as_str(), value.clone()))
            .collect();
        self.post(path, &fields).await
    }

    /// POST a multipart form (a file upload) with the session's CSRF token.
    pub async fn post_multipart(&mut self, path: &str, form: reqwest::multipart::Form) -> Page {
        let form = form.text("csrf_token", self.csrf.clone());
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .multipart(form);
        if let Some(cookie) = self.cookie() {
            request = request.header(COOKIE, cookie);
        }
        self.page(request.send().await.expect("POST")).await
    }

    async fn page(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(SET_COOKIE) {
            let value = value.to_str().unwrap_or_default();
            if let Some((name, cookie)) = value
                .split(';')
                .next()
                .and_then(|pair| pair.split_once('='))
            {
                if cookie.is_empty() || value.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), cookie.to_string());
                }
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let html = response.text().await.expect("body");
        if let Some(csrf) = csrf_of(&html) {
            self.csrf = csrf;
        }
        Page {
            status,
            location,
            html,
        }
    }
}

impl Browser {
    /// The `Cookie` header: every cookie the site set (the tests do not check paths).
    fn cookie(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Whether the browser holds a session cookie.
    pub fn has_session(&self) -> bool {
        self.cookies.contains_key("cspr_session")
    }
}

/// The CSRF token a page's forms carry.
fn csrf_of(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// The runtime a page suite drives its browsers and gRPC set-up on (`cspr serve all` runs
/// in its own process).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The form's hidden idempotency key.
pub fn request_id(html: &str) -> String {
    let marker = "name=\"request_id\" value=\"";
    let start = html.find(marker).expect("request_id field") + marker.len();
    html[start..start + 36].to_string()
}

/// The id in the first link of `html` of the form `{before}{id}{after}`.
pub fn id_between(html: &str, before: &str, after: &str) -> String {
    let start = html
        .find(before)
        .unwrap_or_else(|| panic!("{before} in {html}"))
        + before.len();
    let end = html[start..].find(after).expect("end of the id") + start;
    html[start..end].to_string()
}

/// A day `days` from today (negative: ago), as a GOV.UK date input's (day, month, year).
pub fn date_parts(days: i64) -> (String, String, String) {
    use chrono::Datelike;
    let date = chrono::Utc::now().date_naive() + chrono::Duration::days(days);
    (
        date.day().to_string(),
        date.month().to_string(),
        date.year().to_string(),
    )
}

/// A date `days` from today, as the three fields of a GOV.UK date input named `name`.
pub fn date_fields(name: &str, days: i64) -> Vec<(String, String)> {
    let (day, month, year) = date_parts(days);
    date_fields_on(name, (day, month, year))
}

/// The date input `name`'s three fields for the date (day, month, year).
pub fn date_fields_on(
    name: &str,
    (day, month, year): (impl ToString, impl ToString, impl ToString),
) -> Vec<(String, String)> {
    vec![
        (format!("{name}-day"), day.to_string()),
        (format!("{name}-month"), month.to_string()),
        (format!("{name}-year"), year.to_string()),
    ]
}

/// Form fields from literals, to extend with [`date_fields`] and send with
/// [`Browser::post_pairs`].
pub fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// Checks that `page` has each of `expected`.
pub fn assert_contains(page: &str, expected: &[&str]) {
    for text in expected {
        assert!(page.contains(text), "{text:?} not in {page}");
    }
}

//! A real browser for the suites: Debian's headless Chromium, driven through chromedriver's
//! W3C WebDriver HTTP API (the handful of commands the suite needs, over the reqwest the
//! tests already carry), with a screenshot and an axe-core accessibility check of every
//! page it is asked to look at.
//!
//! The first suite to start one installs Debian's `chromium` and `chromium-driver` where
//! they are missing (`cspr_platform::testing::debian_packages`); if that fails it panics
//! saying so (no test skips silently). `CSPR_TEST_CHROMEDRIVER` and `CSPR_TEST_CHROMIUM`
//! name other binaries than `/usr/bin/chromedriver` and `/usr/bin/chromium`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use cspr_platform::testing;
use serde_json::{Value, json};

/// The WebDriver spec's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The browser suite's npm tools (axe-core), installed by `npm ci` from the lock file.
const TOOLS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");

/// Where screenshots go: `target/web-screenshots/<suite>/`.
pub fn screenshot_dir(suite: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("web-screenshots").join(suite)
}

/// chromedriver, and one Chromium session through it; both ended on drop.
pub struct Chromium {
    driver: Child,
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>/session/<id>`.
    session: String,
    axe: String,
    screenshots: PathBuf,
    /// Pages looked at so far (numbers the screenshots in order).
    visited: usize,
    /// Every serious or critical accessibility violation seen, by page.
    pub violations: Vec<String>,
}

impl Chromium {
    /// A headless Chromium with a fresh profile; screenshots into [`screenshot_dir`]`(suite)`.
    pub async fn start(suite: &str) -> Self {
        let chromedriver = std::env::var("CSPR_TEST_CHROMEDRIVER")
            .unwrap_or_else(|_| "/usr/bin/chromedriver".to_string());
        let chromium =
            std::env::var("CSPR_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string());
        {
            let binaries = [chromedriver.clone(), chromium.clone()];
            tokio::task::spawn_blocking(move || {
                let binaries: Vec<&str> = binaries.iter().map(String::as_str).collect();
                testing::debian_packages(&["chromium", "chromium-driver"], &binaries);
            })
            .await
            .expect("installing chromium");
        }
        tokio::task::spawn_blocking(|| testing::npm_ci(Path::new(TOOLS_DIR)))
            .await
            .expect("npm ci task");
        let axe =
            std::fs::read_to_string(Path::new(TOOLS_DIR).join("node_modules/axe-core/axe.min.js"))
                .expect("axe-core installed");
        let port = testing::free_port();
        // A process group of its own: dropping it ends the browsers it started too.
        let driver = Command::new(&chromedriver)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let base = format!("http://127.0.0.1:{port}");
        testing::eventually("chromedriver ready", testing::DEADLINE, || {
            let http = http.clone();
            let url = format!("{base}/status");
            async move {
                let status: Value = http.get(url).send().await.ok()?.json().await.ok()?;
                status["value"]["ready"].as_bool().filter(|ready| *ready)
            }
        })
        .await;
        let profile = std::env::temp_dir().join(testing::unique("cspr-chromium-"));
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1280,1100",
                        "--no-first-run", "--disable-extensions",
                        format!("--user-data-dir={}", profile.display()),
                    ],
                },
            }}}))
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session answer");
        let id = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        let screenshots = screenshot_dir(suite);
        let _ = std::fs::remove_dir_all(&screenshots);
        std::fs::create_dir_all(&screenshots).expect("screenshot folder");
        Self {
            driver,
            http,
            session: format!("{base}/session/{id}"),
            axe,
            screenshots,
            visited: 0,
            violations: Vec::new(),
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("webdriver command")
            .json()
            .await
            .expect("webdriver answer");
        if let Some(error) = answer["value"]["error"].as_str() {
            panic!(
                "webdriver {path}: {error}: {}",
                answer["value"]["message"].as_str().unwrap_or_default()
            );
        }
        answer["value"].clone()
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The address the browser is at.
    pub async fn url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page's HTML as the browser has it.
    pub async fn source(&self) -> String {
        self.command(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The text a person sees on the page.
    pub async fn text(&self) -> String {
        self.script("return document.body.innerText;", json!([]))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    /// Types `text` into the field matched by `css` (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Chooses the file at `path` in the file input matched by `css`.
    pub async fn choose_file(&self, css: &str, path: &Path) {
        let element = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": path.display().to_string()})),
        )
        .await;
    }

    /// Clicks what `css` matches (a button, a link, a checkbox's label or box).
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Clicks the link whose text is `text`.
    pub async fn click_link(&self, text: &str) {
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "link text", "value": text})),
            )
            .await;
        let element = found[ELEMENT].as_str().expect("link").to_string();
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Clicks what `css` matches (a form's button, a link) and waits for the page it leads
    /// to: a click returns before the browser has the next page.
    pub async fn submit(&self, css: &str) {
        self.mark().await;
        self.click(css).await;
        self.arrived().await;
    }

    /// Marks the page the browser shows, so that [`Self::arrived`] can tell the next one.
    pub async fn mark(&self) {
        self.script("window.cspr_test_left = true;", json!([]))
            .await;
    }

    /// Waits until the browser shows a page other than the one [`Self::mark`]ed, loaded.
    pub async fn arrived(&self) {
        testing::eventually("the next page", testing::DEADLINE, || async move {
            let state = self
                .script(
                    "return window.cspr_test_left ? 'old' : document.readyState;",
                    json!([]),
                )
                .await;
            (state.as_str() == Some("complete")).then_some(())
        })
        .await;
    }

    /// Presses the button in the page's main content whose text is `text` (not the header's
    /// sign-out), and waits for the page it leads to.
    pub async fn press(&self, text: &str) {
        self.mark().await;
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({
                    "using": "xpath",
                    "value": format!("//main//button[normalize-space(.)='{text}']"),
                })),
            )
            .await;
        let element = found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no button {text}: {found}"))
            .to_string();
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
        self.arrived().await;
    }

    /// Runs `script` in the page (WebDriver's, not the page's: the page's CSP does not
    /// apply to it).
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Looks at the page as a person would: saves a screenshot `NN-name.png` and runs axe-core
    /// on it, keeping every serious or critical violation in [`Self::violations`]. Returns
    /// the page's visible text.
    pub async fn look(&mut self, name: &str) -> String {
        self.visited += 1;
        let shot = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        std::fs::write(
            self.screenshots
                .join(format!("{:02}-{name}.png", self.visited)),
            png,
        )
        .expect("screenshot written");
        let check = format!(
            "{}\nconst done = arguments[arguments.length - 1];\n\
             axe.run(document, {{ resultTypes: ['violations'] }}).then(results => done({{\
               checked: results.passes.length + results.violations.length,\
               violations: results.violations\
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')\
                 .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' +\
                   v.nodes.map(n => n.target.join(' ')).join(', '))\
             }})).catch(error => done({{ checked: 0, violations: ['axe failed: ' + error] }}));",
            self.axe
        );
        let found = self
            .command(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({"script": check, "args": []})),
            )
            .await;
        // axe really looked: rules were checked on this page.
        assert!(
            found["checked"].as_u64().unwrap_or_default() > 0,
            "axe-core checked nothing on {name}: {found}"
        );
        for violation in found["violations"].as_array().into_iter().flatten() {
            self.violations.push(format!(
                "{name}: {}",
                violation.as_str().unwrap_or_default()
            ));
        }
        self.text().await
    }

    /// How many screenshots were written.
    pub fn screenshots(&self) -> usize {
        std::fs::read_dir(&self.screenshots)
            .map(|entries| entries.count())
            .unwrap_or_default()
    }
}

/// `DELETE` the WebDriver session at `url` (`http://127.0.0.1:<port>/session/<id>`), from
/// a `Drop` (no runtime): one blocking HTTP/1.1 request, its answer awaited.
fn end_session(url: &str) {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        return;
    };
    let Some((host, path)) = rest.split_once('/') else {
        return;
    };
    let Ok(mut stream) = std::net::TcpStream::connect(host) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // The session first, so chromedriver closes its browser (and the browser its
        // helpers); then the driver and anything left of its process group.
        end_session(&self.session);
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

//! A real OpenID provider run by a test: panva's `oidc-provider` on Node.js
//! (`tests/support/oidc-provider/provider.mjs`), issuing JWT access tokens with the
//! client_credentials grant (systems) and the authorization code grant with PKCE (people,
//! at its development login page), on a free port, with an admin API to rotate its keys.
//!
//! Its npm packages are installed by the first test that needs them (`npm ci` from the
//! committed `package-lock.json` when `node_modules` is missing or older than the lock
//! file; an exclusive lock on `.npm-install.lock` keeps parallel test processes from
//! installing at once), so `cargo test --workspace` needs only Node.js ≥ 20.19 and npm's
//! registry. `CSPR_TEST_NODE` and `CSPR_TEST_NPM` name other binaries than `node` and `npm`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use super::tools::npm_ci;
use crate::config::{AuthConfig, AuthKeys, ClaimMapping, JwksConfig, JwksSource};

/// The provider's folder: script, package.json, package-lock.json.
const SCRIPT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/oidc-provider");

/// How long the provider may take to start (Node, and generating its first key).
const START_LIMIT: Duration = Duration::from_secs(60);

/// A client of the provider and the extra claims its tokens carry.
#[derive(Debug, Clone)]
pub struct OidcClient {
    pub id: String,
    pub secret: String,
    /// Put into every access token it gets (e.g. `{"groups": ["cspr:auditor"]}`).
    pub claims: Value,
    /// Where a client that signs people in (authorization code) may send them back; empty
    /// for a system's client (client credentials).
    pub redirect_uris: Vec<String>,
}

/// Which key [`OidcProvider::sign`] signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningKey {
    /// The provider's current signing key.
    Current,
    /// A key of the same algorithm the provider never published.
    Stranger,
}

/// How often the provider's discovery document and key set were fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct ProviderStats {
    pub jwks: u64,
    pub discovery: u64,
}

/// The running provider; killed on drop.
pub struct OidcProvider {
    child: Option<Child>,
    /// Its end of the provider's stdin: the provider exits when it closes.
    stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:<port>`, as the tokens' `iss` says.
    pub issuer: String,
    /// The resource indicator its tokens are for, their `aud`.
    pub resource: String,
    /// The kids of its keys, the signing one first, as it last said.
    pub kids: Vec<String>,
    /// The provider's stderr.
    log: PathBuf,
    http: reqwest::Client,
    clients: Vec<OidcClient>,
}

impl OidcProvider {
    /// Starts the provider with one key of `alg` (RS256, ES256 or EdDSA), tokens for
    /// `resource`, and `clients`.
    pub async fn start(resource: &str, alg: &str, clients: Vec<OidcClient>) -> Self {
        Self::start_with_accounts(resource, alg, clients, json!({})).await
    }

    /// [`OidcProvider::start`] with people who sign in at its login page: `accounts` is
    /// `{"<login>": {claims of their access tokens}}` (any password).
    pub async fn start_with_accounts(
        resource: &str,
        alg: &str,
        clients: Vec<OidcClient>,
        accounts: Value,
    ) -> Self {
        tokio::task::spawn_blocking(|| npm_ci(Path::new(SCRIPT_DIR)))
            .await
            .expect("npm install task");
        let log = std::env::temp_dir().join(super::unique("cspr-oidc-provider-"));
        let stderr = std::fs::File::create(&log).expect("provider log file");
        let client_list: Vec<Value> = clients
            .iter()
            .map(|client| {
                let mut entry = json!({"client_id": client.id, "client_secret": client.secret, "claims": client.claims});
                if !client.redirect_uris.is_empty() {
                    entry["redirect_uris"] = json!(client.redirect_uris);
                }
                entry
            })
            .collect();
        let mut child = Command::new(node())
            .arg("provider.mjs")
            .current_dir(SCRIPT_DIR)
            .env("OIDC_RESOURCE", resource)
            .env("OIDC_ALG", alg)
            .env("OIDC_CLIENTS", Value::Array(client_list).to_string())
            .env("OIDC_ACCOUNTS", accounts.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("node starts (install Node.js 20.19 or later)");
        let stdout = child.stdout.take().expect("stdout");
        let mut first_line = String::new();
        let read = tokio::time::timeout(
            START_LIMIT,
            BufReader::new(stdout).read_line(&mut first_line),
        )
        .await;
        let started: Value = match read {
            Ok(Ok(bytes)) if bytes > 0 => serde_json::from_str(&first_line)
                .unwrap_or_else(|error| panic!("provider said {first_line:?}: {error}")),
            _ => panic!(
                "the OpenID provider did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        };
        Self {
            stdin: child.stdin.take(),
            child: Some(child),
            issuer: started["issuer"].as_str().expect("issuer").to_string(),
            resource: resource.to_string(),
            kids: kids(&started),
            log,
            http: crate::auth::http_client().expect("HTTP client"),
            clients,
        }
    }

    /// Its key set's URL (also the discovery document's `jwks_uri`).
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// Settings that verify its tokens with its key set from `source`, claims mapped by
    /// `claims`.
    pub fn auth_config(
        &self,
        source: JwksSource,
        refresh_interval: Duration,
        min_refresh_interval: Duration,
        claims: ClaimMapping,
    ) -> AuthConfig {
        AuthConfig {
            keys: AuthKeys::Jwks(JwksConfig {
                source,
                refresh_interval,
                min_refresh_interval,
            }),
            issuer: self.issuer.clone(),
            audience: self.resource.clone(),
            claims,
        }
    }

    /// An access token for `client_id` (client_credentials grant, for the resource).
    pub async fn token(&self, client_id: &str) -> String {
        let client = self
            .clients
            .iter()
            .find(|client| client.id == client_id)
            .unwrap_or_else(|| panic!("no client {client_id}"));
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client.id.as_str()),
            ("client_secret", client.secret.as_str()),
            ("resource", self.resource.as_str()),
            ("scope", "cspr"),
        ];
        let body = form
            .iter()
            .map(|(name, value)| format!("{name}={}", form_encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        let answer = self
            .call(
                self.http
                    .post(format!("{}/token", self.issuer))
                    .header(
                        http::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body),
            )
            .await;
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {answer}"))
            .to_string()
    }

    /// A new key of `alg`, first in the key set and signing from now on; the others stay.
    pub async fn rotate(&mut self, alg: &str) -> String {
        self.change_keys(&format!("rotate?alg={alg}")).await;
        self.kids[0].clone()
    }

    /// Stops publishing the key `kid` (not the signing one).
    pub async fn retire(&mut self, kid: &str) {
        self.change_keys(&format!("retire?kid={kid}")).await;
    }

    /// An admin call that changes the key set; keeps the kids it answers with.
    async fn change_keys(&mut self, call: &str) {
        let url = format!("{}/admin/{call}", self.issuer);
        let answer = self.call(self.http.post(url)).await;
        self.kids = kids(&answer);
    }

    /// A JWT of `claims` signed by `key`, its header naming `kid` (none if `None`).
    pub async fn sign(&self, claims: Value, key: SigningKey, kid: Option<&str>) -> String {
        let key = match key {
            SigningKey::Current => "current",
            SigningKey::Stranger => "stranger",
        };
        let request = json!({"claims": claims, "key": key, "kid": kid});
        let answer = self
            .call(
                self.http
                    .post(format!("{}/admin/sign", self.issuer))
                    .body(request.to_string()),
            )
            .await;
        answer["token"].as_str().expect("token").to_string()
    }

    /// How often its key set and discovery document were fetched so far.
    pub async fn stats(&self) -> ProviderStats {
        let answer = self
            .call(self.http.get(format!("{}/admin/stats", self.issuer)))
            .await;
        serde_json::from_value(answer).expect("stats")
    }

    /// Kills the provider: its port refuses connections from now on.
    pub async fn stop(&mut self) {
        self.stdin.take();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request.send().await.unwrap_or_else(|error| {
            panic!("OpenID provider unreachable: {error}; log: {}", self.log())
        });
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            panic!(
                "OpenID provider answered {status}: {text}; log: {}",
                self.log()
            );
        }
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
    }

    /// What the provider wrote on stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

fn kids(answer: &Value) -> Vec<String> {
    answer["kids"]
        .as_array()
        .map(|kids| {
            kids.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn node() -> String {
    std::env::var("CSPR_TEST_NODE").unwrap_or_else(|_| "node".to_string())
}

/// `application/x-www-form-urlencoded` for a value (the test's secrets and URNs).
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

//! The `cspr` binary as the suites run it: a command with a clean environment, a process
//! killed when dropped (so a failed test leaves none holding connections), and the
//! isolation one `cspr serve all` needs (ports, databases, subject prefix, mail folder),
//! which a second process can share as a replica.

#![allow(dead_code, unreachable_pub)]

pub mod browser;
pub mod walk;
pub mod web;

use std::process::{Command, Stdio};

use cspr_platform::testing;

/// The HS256 secret the suites' `cspr serve` processes verify tokens with.
pub const SECRET: &str = "binary-test-secret-0123456789";

/// `cspr` with nothing of the test's environment but `PATH`.
pub fn cspr() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cspr"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

/// A running `cspr serve`, killed when dropped unless a test took it to wait for its exit.
pub struct Server(Option<std::process::Child>);

impl Server {
    pub fn new(child: std::process::Child) -> Self {
        Self(Some(child))
    }

    /// Starts `command`.
    pub fn spawn(command: &mut Command) -> Self {
        Self::new(command.spawn().expect("serve starts"))
    }

    /// The process.
    pub fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("the process was taken")
    }

    /// Its pid, for signals.
    pub fn pid(&mut self) -> String {
        self.child().id().to_string()
    }

    /// The process, no longer killed on drop (the test waits for it to exit).
    pub fn take(&mut self) -> std::process::Child {
        self.0.take().expect("the process was taken")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take()
            && let Ok(None) = child.try_wait()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What one `cspr serve all` of a test needs of its own: a port and a database per service,
/// a subject prefix, a mail folder; cleaned up when dropped (after a failed test too).
pub struct Isolated {
    /// (service, address, database URL) for every service of the build.
    pub services: Vec<(&'static str, String, String)>,
    pub prefix: String,
    pub mail_dir: tempfile::TempDir,
    /// Settings every process of this isolation gets too (e.g. `CSPR_SMTP_URL`).
    pub env: Vec<(String, String)>,
}

impl Isolated {
    pub fn new() -> Self {
        let services = cspr_platform::config::SERVICE_NAMES
            .into_iter()
            .map(|name| {
                (
                    name,
                    format!("127.0.0.1:{}", testing::free_port()),
                    testing::service_config(name).database_url,
                )
            })
            .collect();
        Self {
            services,
            prefix: testing::unique("bin"),
            mail_dir: tempfile::tempdir().expect("mail folder"),
            env: Vec::new(),
        }
    }

    /// Where `service` listens.
    pub fn addr(&self, service: &str) -> String {
        self.services
            .iter()
            .find(|(name, _, _)| *name == service)
            .map(|(_, addr, _)| addr.clone())
            .unwrap_or_default()
    }

    /// The same databases, streams and mail, on ports of its own: what a second replica of
    /// the deployment is. Cleaning up is left to `self`.
    pub fn replica(&self) -> Replica {
        Replica {
            addrs: self
                .services
                .iter()
                .map(|(name, _, _)| (*name, format!("127.0.0.1:{}", testing::free_port())))
                .collect(),
        }
    }

    /// `cspr serve all` with this isolation, not yet started: a test adds its own settings.
    pub fn serve_command(&self) -> Command {
        self.command_on(&self.own_addrs())
    }

    /// `cspr serve all` with this isolation.
    pub fn serve(&self) -> Server {
        Server::spawn(&mut self.serve_command())
    }

    /// `cspr serve all` as `replica` of this isolation.
    pub fn serve_replica(&self, replica: &Replica) -> Server {
        Server::spawn(&mut self.command_on(&replica.addrs))
    }

    /// Waits until every service reports SERVING, as a container health check would.
    pub fn wait_serving(&self) {
        wait_serving(&self.own_addrs());
    }

    fn own_addrs(&self) -> Vec<(&'static str, String)> {
        self.services
            .iter()
            .map(|(name, addr, _)| (*name, addr.clone()))
            .collect()
    }

    fn command_on(&self, addrs: &[(&'static str, String)]) -> Command {
        let mut command = cspr();
        command
            .args(["serve", "all"])
            .env("CSPR_AUTH_HS256_SECRET", SECRET)
            .env("CSPR_NATS_URL", testing::nats_url())
            .env("CSPR_SUBJECT_PREFIX", &self.prefix)
            .env("CSPR_MAIL_DIR", self.mail_dir.path())
            // `all` includes the web front end: a port of its own, never the shared 8080.
            .env("CSPR_WEB_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .envs(self.env.iter().map(|(key, value)| (key, value)));
        for (name, _, database) in &self.services {
            let upper = name.to_ascii_uppercase();
            let addr = addrs
                .iter()
                .find(|(service, _)| service == name)
                .map(|(_, addr)| addr.as_str())
                .unwrap_or_default();
            command
                .env(format!("CSPR_{upper}_ADDR"), addr)
                .env(format!("CSPR_{upper}_DATABASE_URL"), database);
        }
        command
    }
}

impl Drop for Isolated {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Runtime::new() else {
            return;
        };
        runtime.block_on(async {
            testing::delete_streams(&testing::nats_url(), &self.prefix).await;
            for (_, _, database) in &self.services {
                testing::drop_database(database).await;
            }
        });
    }
}

/// A second `cspr serve all` sharing an [`Isolated`]'s state: its own ports.
pub struct Replica {
    pub addrs: Vec<(&'static str, String)>,
}

impl Replica {
    /// Where `service` of this replica listens.
    pub fn addr(&self, service: &str) -> String {
        self.addrs
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, addr)| addr.clone())
            .unwrap_or_default()
    }

    /// Waits until every service of this replica reports SERVING.
    pub fn wait_serving(&self) {
        wait_serving(&self.addrs);
    }
}

/// How long a whole `cspr serve all` may take to report SERVING: seven databases migrated
/// and eight servers started, while a suite's other tests start theirs on the same two
/// cores (four at once took more than 30 s in CI, 2026-12-04).
const STARTUP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

/// How often a start-up is probed: each probe is a `cspr health check` process, and four
/// suites probing 40 times a second took much of the CPU the start-ups needed.
const STARTUP_PROBE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Waits until each address reports SERVING through `cspr health check`.
fn wait_serving(addrs: &[(&'static str, String)]) {
    for (_, addr) in addrs {
        let health = testing::eventually_blocking_every(
            &format!("{addr} SERVING"),
            STARTUP_DEADLINE,
            STARTUP_PROBE_EVERY,
            || {
                let health = cspr()
                    .args(["health", "check", addr])
                    .output()
                    .expect("health runs");
                health.status.success().then_some(health)
            },
        );
        assert_eq!(String::from_utf8_lossy(&health.stdout).trim(), "SERVING");
    }
}

/// A development token from `cspr token create` of the partnership "southvale".
pub fn dev_token(roles: &[&str], org: Option<&str>) -> String {
    dev_token_as("someone", roles, org)
}

/// [`dev_token`] for the subject `sub` (e.g. an appointed reviewer's).
pub fn dev_token_as(sub: &str, roles: &[&str], org: Option<&str>) -> String {
    let mut command = cspr();
    command
        .args([
            "token",
            "create",
            "--partnership",
            "southvale",
            "--sub",
            sub,
        ])
        .env("CSPR_AUTH_HS256_SECRET", SECRET);
    for role in roles {
        command.args(["--role", role]);
    }
    if let Some(org) = org {
        command.args(["--org", org]);
    }
    let output = command.output().expect("token");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

//! A PostgreSQL server of the test's own, for the fault tests that must stop it: `initdb`
//! into a temporary folder, started on a free port, stopped (a fast shutdown: sessions are
//! ended with `57P01 admin_shutdown`), crashed (an immediate shutdown: connections cut
//! without a word, as when the server dies) and started again on the same port and data.
//! The shared server the other tests use is never touched.
//!
//! PostgreSQL refuses to run as root: when the tests run as root (CI's containers), the
//! server runs as the user `postgres` (through `runuser`) in a folder owned by it.
//! `CSPR_TEST_PG_BIN` names the folder holding `initdb` and `pg_ctl`; by default it is the
//! newest `/usr/lib/postgresql/<version>/bin` (Debian's packages), else `PATH`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// How long `pg_ctl` may take to start or stop the server (start-up after a crash replays
/// the WAL).
const PG_CTL_WAIT_SECONDS: &str = "60";

/// A private PostgreSQL server; stopped and removed when dropped (after a panic too).
pub struct PgCluster {
    /// Where `initdb`, `pg_ctl` and `postgres` are.
    bin: PathBuf,
    /// The temporary folder: `data/`, the server's log and its Unix socket.
    root: PathBuf,
    /// The TCP port it listens on, kept across restarts.
    port: u16,
    /// Whether its commands run as the user `postgres` (the tests run as root).
    as_postgres: bool,
    /// Whether it is running (so `Drop` knows to stop it).
    running: bool,
}

impl PgCluster {
    /// Creates a fresh cluster (user `postgres`, trust authentication) and starts it.
    pub async fn start() -> Self {
        let bin = binaries();
        let root = std::env::temp_dir().join(super::unique("cspr-pg-"));
        std::fs::create_dir_all(&root).expect("a folder for the test's PostgreSQL");
        let as_postgres = std::fs::metadata("/proc/self").is_ok_and(|own| own.uid() == 0);
        let mut cluster = Self {
            bin,
            root,
            port: super::free_port(),
            as_postgres,
            running: false,
        };
        if as_postgres {
            run(tokio::process::Command::new("chown")
                .arg("postgres:")
                .arg(&cluster.root))
            .await
            .expect("the test's PostgreSQL folder given to the user postgres");
        }
        let data = cluster.data();
        let initialised = run(cluster.command("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]))
        .await;
        if let Err(error) = initialised {
            panic!("initdb failed: {error}");
        }
        cluster.start_again().await;
        cluster
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of its `postgres` database, as `CSPR_TEST_DATABASE_URL` would be: services'
    /// databases are made next to it ([`crate::config::with_database_name`]).
    pub fn server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The URL of database `name` on it.
    pub fn database_url(&self, name: &str) -> String {
        crate::config::with_database_name(&self.server_url(), name)
    }

    /// (Re)starts the server on its port and data; returns once it accepts connections.
    pub async fn start_again(&mut self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            self.port,
            self.root.display()
        );
        let started = run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", PG_CTL_WAIT_SECONDS, "-o", &options, "start"]))
        .await;
        if let Err(error) = started {
            panic!("PostgreSQL did not start: {error}\n{}", self.log_tail());
        }
        self.running = true;
    }

    /// Stops the server as an operator's fast shutdown does: open sessions are ended with
    /// `FATAL 57P01 terminating connection due to administrator command`, then new
    /// connections are refused. Returns once it is down.
    pub async fn stop(&mut self) {
        self.shut_down("fast").await;
    }

    /// Stops the server as a crash would (an immediate shutdown: no checkpoint, every
    /// connection cut at once, the next start recovers from the WAL): clients see their
    /// connection end in the middle of a reply. Returns once it is down.
    pub async fn crash(&mut self) {
        self.shut_down("immediate").await;
    }

    async fn shut_down(&mut self, mode: &str) {
        let stopped = run(self.command("pg_ctl").arg("-D").arg(self.data()).args([
            "-m",
            mode,
            "-w",
            "-t",
            PG_CTL_WAIT_SECONDS,
            "stop",
        ]))
        .await;
        if let Err(error) = stopped {
            panic!(
                "PostgreSQL did not stop ({mode}): {error}\n{}",
                self.log_tail()
            );
        }
        self.running = false;
    }

    /// The end of the server's log, for a failing test to show.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("postgresql.log")
    }

    /// One of the server's programs, run as the user `postgres` when the test is root.
    fn command(&self, program: &str) -> tokio::process::Command {
        let binary = self.bin.join(program);
        if self.as_postgres {
            let mut command = tokio::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(binary);
            command
        } else {
            tokio::process::Command::new(binary)
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            // Blocking: Drop may run outside the runtime or while a panic unwinds.
            let binary = self.bin.join("pg_ctl");
            let mut command = if self.as_postgres {
                let mut command = std::process::Command::new("runuser");
                command.args(["-u", "postgres", "--"]).arg(binary);
                command
            } else {
                std::process::Command::new(binary)
            };
            let _ = command
                .arg("-D")
                .arg(self.data())
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Runs a command to its end; its output is the error when it fails.
async fn run(command: &mut tokio::process::Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|error| format!("cannot run {command:?}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} exited with {}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The folder with PostgreSQL's programs (see the module docs).
fn binaries() -> PathBuf {
    if let Some(bin) = std::env::var_os("CSPR_TEST_PG_BIN") {
        return PathBuf::from(bin);
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version);
    match newest {
        Some((_, bin)) => bin,
        // On PATH: `Path::join` of a bare program name keeps the bare name.
        None => Path::new("").to_path_buf(),
    }
}

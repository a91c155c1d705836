//! The `cspr` binary as an operator and a person at a terminal use it: bad configuration
//! refused by name, `serve` reaching SERVING, `token` and `review` commands against it,
//! and SIGTERM ending it cleanly with exit code 0.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cspr_platform::testing;

const SECRET: &str = "binary-test-secret-0123456789";

fn cspr() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cspr"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("free port")
}

#[test]
fn a_bad_setting_is_named_and_exits_non_zero() {
    let output = cspr()
        .args(["serve", "registry"])
        .env("CSPR_AUTH_HS256_SECRET", SECRET)
        .env("CSPR_REGISTRY_ADDR", "not-an-address")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("CSPR_REGISTRY_ADDR"), "{stderr}");

    let output = cspr().args(["serve", "registry"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("CSPR_AUTH_HS256_SECRET"));

    let output = cspr()
        .args(["serve", "nonsense"])
        .env("CSPR_AUTH_HS256_SECRET", SECRET)
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a cspr service"));
}

#[test]
fn serve_token_review_and_a_clean_sigterm() {
    // Arrange: one registry process with its own database, prefix and port.
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let submissions_addr = format!("127.0.0.1:{}", free_port());
    let database_url = testing::service_config("registry").database_url;
    let submissions_database_url = testing::service_config("submissions").database_url;
    let prefix = testing::unique("bin");
    let mut server = cspr()
        .args(["serve", "all"])
        .env("CSPR_AUTH_HS256_SECRET", SECRET)
        .env("CSPR_REGISTRY_ADDR", &addr)
        .env("CSPR_REGISTRY_DATABASE_URL", &database_url)
        .env("CSPR_SUBMISSIONS_ADDR", &submissions_addr)
        .env("CSPR_SUBMISSIONS_DATABASE_URL", &submissions_database_url)
        .env("CSPR_NATS_URL", testing::nats_url())
        .env("CSPR_SUBJECT_PREFIX", &prefix)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");

    // Act: wait for SERVING as a container health check would.
    let started = Instant::now();
    loop {
        let health = cspr()
            .args(["health", &addr])
            .output()
            .expect("health runs");
        if health.status.success() {
            assert_eq!(String::from_utf8_lossy(&health.stdout).trim(), "SERVING");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never SERVING");
        std::thread::sleep(Duration::from_millis(100));
    }

    let token = cspr()
        .args([
            "token",
            "--partnership",
            "southvale",
            "--role",
            "partnership_admin",
            "--sub",
            "alice",
        ])
        .env("CSPR_AUTH_HS256_SECRET", SECRET)
        .output()
        .expect("token");
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout)
        .expect("utf8")
        .trim()
        .to_string();

    let created = cspr()
        .args([
            "review",
            "create",
            "--alias",
            "Child Q",
            "--local-authority",
            "Southvale Council",
            "--incident-date",
            "2026-03-09",
            "--became-aware-on",
            "2026-03-10",
            "--json",
        ])
        .env("CSPR_REGISTRY_URL", format!("http://{addr}"))
        .env("CSPR_TOKEN", &token)
        .output()
        .expect("create");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let review: serde_json::Value = serde_json::from_slice(&created.stdout).expect("json");
    assert_eq!(review["stage"], "NOTIFIED");
    assert_eq!(review["deadlines"][0]["kind"], "NOTIFICATION");
    assert_eq!(review["deadlines"][0]["due_on"], "2026-03-17");
    let id = review["id"].as_str().expect("id").to_string();

    let listed = cspr()
        .args(["review", "list"])
        .env("CSPR_REGISTRY_URL", format!("http://{addr}"))
        .env("CSPR_TOKEN", &token)
        .output()
        .expect("list");
    assert!(listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&id));

    let refused = cspr()
        .args(["review", "get", "not-a-uuid"])
        .env("CSPR_REGISTRY_URL", format!("http://{addr}"))
        .env("CSPR_TOKEN", &token)
        .output()
        .expect("get");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("review_id"),
        "field named for a person"
    );

    // SIGTERM: drains and exits 0.
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().expect("wait") {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(30),
            "did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "clean exit after SIGTERM");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        testing::delete_streams(&testing::nats_url(), &prefix).await;
        testing::drop_database(&database_url).await;
        testing::drop_database(&submissions_database_url).await;
    });
}

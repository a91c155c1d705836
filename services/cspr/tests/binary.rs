//! The `cspr` binary as an operator and a person at a terminal use it: bad configuration
//! refused by name, `serve` reaching SERVING, every client command (`cspr <noun> <verb>`,
//! with `--review <ID>` and `--output table|json|csv`) against it, and SIGTERM ending it
//! cleanly with exit code 0.

use std::process::{Command, Stdio};
use std::time::Duration;

use cspr_platform::testing;

mod common;

use common::{Isolated, SECRET, Server, cspr, dev_token};

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
    assert_eq!(
        output.status.code(),
        Some(2),
        "refused before anything starts"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value 'nonsense'") && stderr.contains("notifications"),
        "names the value and lists the services: {stderr}"
    );
}

#[test]
fn serve_token_review_and_a_clean_sigterm() {
    // Arrange: every service of the build with its own databases, prefix and ports.
    let isolated = Isolated::new();
    let addr = isolated.addr("registry");
    // `all` includes the web front end; on a port of this test's own.
    let web = format!("127.0.0.1:{}", testing::free_port());
    let mut server = Server::spawn(isolated.serve_command().env("CSPR_WEB_ADDR", &web));

    // Act: wait for SERVING as a container health check would.
    isolated.wait_serving();
    let sign_in = testing::eventually_blocking(
        "the web front end to answer",
        Duration::from_secs(30),
        || http_get(&web, "/sign-in"),
    );
    assert!(sign_in.starts_with("HTTP/1.1 200"), "{sign_in}");
    assert!(
        sign_in.contains("Child Safeguarding Practice Reviews")
            && sign_in.contains("This is a development sign-in"),
        "the web's development sign-in: {sign_in}"
    );

    let token = cspr()
        .args([
            "token",
            "create",
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
            "--output",
            "json",
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
    assert_eq!(review["stage"], "notified");
    assert_eq!(review["deadlines"][0]["kind"], "notification");
    let status = review["deadlines"][0]["status"]
        .as_str()
        .unwrap_or_default();
    assert!(
        ["pending", "at_risk", "met", "missed"].contains(&status),
        "enums print without their prefix, in lower case (depends on today): {status}"
    );
    assert_eq!(review["deadlines"][0]["due_on"], "2026-03-17");
    let id = review["id"].as_str().expect("id").to_string();

    let review_command = |args: &[&str]| {
        let output = cspr()
            .arg("review")
            .args(args)
            .env("CSPR_REGISTRY_URL", format!("http://{addr}"))
            .env("CSPR_TOKEN", &token)
            .output()
            .expect("review command");
        assert!(
            output.status.success(),
            "review {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf8")
    };
    let listed = review_command(&["list"]);
    let mut lines = listed.lines();
    assert_eq!(
        lines
            .next()
            .map(|header| header.split_whitespace().collect::<Vec<_>>()),
        Some(vec![
            "REFERENCE",
            "CHILD",
            "AUTHORITY",
            "INCIDENT",
            "AWARE",
            "STAGE",
            "REVIEWER",
            "ID"
        ]),
        "{listed}"
    );
    let row = lines.next().expect("the review's row");
    assert!(row.contains("Child Q") && row.contains("notified") && row.ends_with(&id));

    let listed: serde_json::Value = serde_json::from_str(&review_command(&[
        "list", "--stage", "notified", "-o", "json",
    ]))
    .expect("json");
    assert_eq!(listed[0]["id"], id.as_str(), "a listing is an array");
    let other_stage: serde_json::Value = serde_json::from_str(&review_command(&[
        "list", "--stage", "scoping", "-o", "json",
    ]))
    .expect("json");
    assert_eq!(
        other_stage,
        serde_json::json!([]),
        "the stage filter is sent"
    );

    let csv = review_command(&["list", "--output", "csv"]);
    let csv: Vec<&str> = csv.lines().collect();
    assert_eq!(
        csv[0],
        "reference,child,authority,incident,aware,stage,reviewer,id"
    );
    assert!(csv[1].ends_with(&format!(",notified,,{id}")), "{}", csv[1]);

    let shown = review_command(&["show", "--review", &id]);
    assert!(
        shown.contains("Southvale Council") && shown.contains("DEADLINE"),
        "{shown}"
    );
    let timeline = review_command(&["timeline", "--review", &id, "--output", "csv"]);
    assert!(
        timeline
            .starts_with("deadline,due,status,done,working_days_left\nnotification,2026-03-17,"),
        "{timeline}"
    );

    let refused = cspr()
        .args(["review", "show", "--review", "not-a-uuid"])
        .env("CSPR_REGISTRY_URL", format!("http://{addr}"))
        .env("CSPR_TOKEN", &token)
        .output()
        .expect("show");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.starts_with("error: invalid argument: ") && stderr.contains("review_id"),
        "the refusal in words, with the field named for a person: {stderr}"
    );

    // SIGTERM: drains and exits 0.
    let killed = Command::new("kill")
        .args(["-TERM", &server.pid()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = testing::eventually_blocking(
        "the process to exit after SIGTERM",
        Duration::from_secs(30),
        || server.child().try_wait().expect("wait"),
    );
    assert_eq!(status.code(), Some(0), "clean exit after SIGTERM");
}

/// A plain HTTP/1.1 GET's whole response, once the server accepts connections.
fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// Runs the binary with the client settings of a test stack.
fn client(token: &str, registry: &str, submissions: &str) -> Command {
    let mut command = cspr();
    command
        .env("CSPR_TOKEN", token)
        .env("CSPR_REGISTRY_URL", format!("http://{registry}"))
        .env("CSPR_SUBMISSIONS_URL", format!("http://{submissions}"));
    command
}

#[test]
fn an_agency_report_from_a_file_and_the_chronology_as_csv() {
    use cspr_platform::testing::authed;
    use cspr_proto::google::r#type::Date;
    use cspr_proto::registry::v1 as registry;
    use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;

    let isolated = Isolated::new();
    let registry_addr = isolated.addr("registry");
    let submissions_addr = isolated.addr("submissions");
    let mail_dir = isolated.mail_dir.path().to_path_buf();
    let mut server = isolated.serve();
    isolated.wait_serving();
    let admin = dev_token(&["partnership_admin", "panel_chair"], None);
    let police = dev_token(&["agency"], Some("police"));

    // A review with terms of reference, set up over gRPC as the registry's users would.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let review_id = runtime.block_on(async {
        let mut client = ReviewRegistryClient::connect(format!("http://{registry_addr}"))
            .await
            .expect("connect");
        let day = |year, month, day| Some(Date { year, month, day });
        let review = client
            .create_review(authed(
                registry::CreateReviewRequest {
                    request_id: "r".into(),
                    child_alias: "Child Q".into(),
                    local_authority: "Southvale Council".into(),
                    incident_date: day(2026, 3, 9),
                    became_aware_on: day(2026, 3, 10),
                },
                &admin,
            ))
            .await
            .expect("review")
            .into_inner();
        let id = review.id;
        client
            .record_notification_sent(authed(
                registry::RecordNotificationSentRequest {
                    review_id: id.clone(),
                    sent_on: day(2026, 3, 11),
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .expect("notified");
        client
            .record_decision(authed(
                registry::RecordDecisionRequest {
                    review_id: id.clone(),
                    decision: registry::Decision::LocalCspr as i32,
                    decided_on: day(2026, 3, 26),
                    rationale: String::new(),
                },
                &admin,
            ))
            .await
            .expect("decided");
        client
            .set_terms_of_reference(authed(
                registry::SetTermsOfReferenceRequest {
                    review_id: id.clone(),
                    scope_start: day(2024, 9, 15),
                    scope_end: day(2026, 3, 9),
                    key_lines_of_enquiry: vec!["Information sharing".into()],
                    methodology: "Systems approach".into(),
                    agencies_in_scope: vec![registry::Agency {
                        id: "police".into(),
                        name: "Southvale Police".into(),
                        contact_email: "lead@police.example.org".into(),
                    }],
                    report_due_date: day(2099, 5, 1),
                    based_on_version: None,
                },
                &admin,
            ))
            .await
            .expect("terms");
        id
    });

    // The agency's report as a file with 1,000 entries.
    let entries: Vec<_> = (0..1_000)
        .map(|index| {
            serde_json::json!({
                "occurred_on": format!("2025-{:02}-{:02}", 1 + index % 12, 1 + index % 28),
                "service": "Home visit",
                "practitioner_name": "Alex Smith",
                "practitioner_role": "Officer",
                "description": format!("Visit {index}, \"concerns\" noted, follow-up agreed"),
            })
        })
        .collect();
    let report = serde_json::json!({
        "review_id": review_id,
        "agency_id": "police",
        "author_name": "Sam Lead",
        "author_role": "Safeguarding lead",
        "narrative": {"summary": "S", "analysis_of_involvement": "A", "learning": "L"},
        "entries": entries,
    });
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), serde_json::to_vec(&report).expect("json")).expect("write");

    // The request arrives from the registry's event shortly after the terms of reference.
    let submitted = testing::eventually_blocking(
        "the report stored once the request exists",
        testing::DEADLINE,
        || {
            let output = client(&police, &registry_addr, &submissions_addr)
                .args(["report", "submit", "--file"])
                .arg(file.path())
                .args(["--output", "json"])
                .output()
                .expect("submit");
            output.status.success().then_some(output)
        },
    );

    // Without CSPR_SMTP_URL, the agency's "report requested" email is an .eml file.
    let emails: Vec<std::path::PathBuf> =
        testing::eventually_blocking("the report request's .eml file", testing::DEADLINE, || {
            let emails = testing::files_in(&mail_dir);
            (!emails.is_empty()).then_some(emails)
        });
    assert_eq!(emails.len(), 1, "one email for the one agency in scope");
    let email = std::fs::read_to_string(&emails[0]).expect("eml");
    assert!(email.contains("lead@police.example.org") && email.contains("Report requested"));
    let receipt: serde_json::Value =
        serde_json::from_slice(&submitted.stdout).expect("receipt json");
    assert_eq!(receipt["entry_count"], 1_000);
    assert_eq!(receipt["version"], 1);

    // The same file again is a retry, not a new version.
    let again = client(&police, &registry_addr, &submissions_addr)
        .args(["report", "submit", "-o", "json", "--file"])
        .arg(file.path())
        .output()
        .expect("submit again");
    let retry: serde_json::Value = serde_json::from_slice(&again.stdout).expect("receipt json");
    assert_eq!(
        retry, receipt,
        "a retry returns the first receipt exactly, its submit time to the digit"
    );

    let reports = client(&admin, &registry_addr, &submissions_addr)
        .args(["report", "list", "--review", &review_id])
        .output()
        .expect("reports");
    assert!(reports.status.success());
    let reports = String::from_utf8_lossy(&reports.stdout).to_string();
    assert!(
        reports.lines().next().is_some_and(|header| header
            .split_whitespace()
            .eq(["AGENCY", "NAME", "DUE", "STATUS", "VERSION", "NOTE"])),
        "{reports}"
    );
    assert!(
        reports
            .lines()
            .nth(1)
            .is_some_and(|row| row.starts_with("police") && row.contains("  submitted  1")),
        "{reports}"
    );
    let reports = client(&admin, &registry_addr, &submissions_addr)
        .args(["report", "list", "--review", &review_id, "--output", "json"])
        .output()
        .expect("reports");
    let reports: serde_json::Value = serde_json::from_slice(&reports.stdout).expect("json");
    assert_eq!(reports[0]["status"], "submitted");
    assert_eq!(reports[0]["latest_version"], 1);

    let csv = client(&admin, &registry_addr, &submissions_addr)
        .args([
            "chronology",
            "show",
            "--review",
            &review_id,
            "--output",
            "csv",
            "--include-pending",
        ])
        .output()
        .expect("chronology");
    assert!(
        csv.status.success(),
        "{}",
        String::from_utf8_lossy(&csv.stderr)
    );
    let text = String::from_utf8(csv.stdout).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1_001, "a header and every entry");
    assert_eq!(
        lines[0],
        "date,time,agency,service,practitioner,role,description,outcome,version,status"
    );
    assert!(lines[1].contains("\"Visit"), "quoted fields: {}", lines[1]);
    assert!(lines[1].ends_with(",1,submitted"), "{}", lines[1]);
    let dates: Vec<&str> = lines[1..].iter().map(|line| &line[..10]).collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted, "in date order");

    // The family command answers for the review (no members yet; redacted for this role).
    let family_listing: serde_json::Value = testing::eventually_blocking(
        "the review known to the family service",
        testing::DEADLINE,
        || {
            let output = client(&admin, &registry_addr, &submissions_addr)
                .env(
                    "CSPR_FAMILY_URL",
                    format!("http://{}", isolated.addr("family")),
                )
                .args(["family", "list", "--review", &review_id, "--output", "json"])
                .output()
                .expect("family");
            output
                .status
                .success()
                .then(|| serde_json::from_slice(&output.stdout).expect("json"))
        },
    );
    assert_eq!(
        family_listing,
        serde_json::json!([]),
        "the review is known to the family service"
    );

    // The partnership's action figures (none yet).
    let summary = client(&admin, &registry_addr, &submissions_addr)
        .env(
            "CSPR_ACTIONS_URL",
            format!("http://{}", isolated.addr("actions")),
        )
        .args(["action", "summary", "--output", "json"])
        .output()
        .expect("actions summary");
    assert!(
        summary.status.success(),
        "{}",
        String::from_utf8_lossy(&summary.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&summary.stdout).expect("json");
    assert_eq!(summary["total"], 0);
    let actions = client(&admin, &registry_addr, &submissions_addr)
        .env(
            "CSPR_ACTIONS_URL",
            format!("http://{}", isolated.addr("actions")),
        )
        .args(["action", "list", "--review", &review_id, "--output", "csv"])
        .output()
        .expect("action list");
    assert!(
        actions.status.success(),
        "{}",
        String::from_utf8_lossy(&actions.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&actions.stdout),
        "ref,owner,due,status,overdue,description,id\n",
        "a header and no actions yet"
    );

    // The practitioner named in the chronology is suggested to the reviewer.
    let practitioners_addr = isolated.addr("practitioners");
    let suggested: serde_json::Value = testing::eventually_blocking(
        "the chronology's practitioner suggested",
        testing::DEADLINE,
        || {
            let output = client(&admin, &registry_addr, &submissions_addr)
                .env(
                    "CSPR_PRACTITIONERS_URL",
                    format!("http://{practitioners_addr}"),
                )
                .args([
                    "practitioner",
                    "list",
                    "--review",
                    &review_id,
                    "--suggested",
                    "--output",
                    "json",
                ])
                .output()
                .expect("practitioners");
            let suggested: serde_json::Value =
                serde_json::from_slice(&output.stdout).unwrap_or_default();
            suggested
                .as_array()
                .is_some_and(|list| !list.is_empty())
                .then_some(suggested)
        },
    );
    assert_eq!(suggested[0]["name"], "Alex Smith");
    assert_eq!(suggested[0]["status"], "suggested");
    let scheduled = client(&admin, &registry_addr, &submissions_addr)
        .env(
            "CSPR_PRACTITIONERS_URL",
            format!("http://{practitioners_addr}"),
        )
        .args([
            "learning-event",
            "schedule",
            "--review",
            &review_id,
            "--at",
            "2099-05-12T10:00:00+01:00",
            "--location",
            "Online",
            "--agenda",
            "What happened",
            "--output",
            "json",
        ])
        .output()
        .expect("learning event");
    assert!(
        scheduled.status.success(),
        "{}",
        String::from_utf8_lossy(&scheduled.stderr)
    );
    let scheduled: serde_json::Value = serde_json::from_slice(&scheduled.stdout).expect("json");
    assert_eq!(scheduled["review_id"], review_id.as_str());
    assert_eq!(scheduled["scheduled_at"], "2099-05-12T09:00:00Z");
    assert_eq!(
        scheduled["invitee_ids"],
        serde_json::json!([]),
        "suggestions are not invited"
    );

    let _ = Command::new("kill").args(["-TERM", &server.pid()]).status();
    let _ = server.child().wait();
}

#[test]
fn serve_reads_the_tls_settings_and_client_commands_verify_the_server() {
    // Arrange: the registry served with TLS and optional mutual TLS, from the env vars an
    // operator sets, with certificates of the test's own CA.
    let pki = testing::TestPki::new();
    let addr = format!("127.0.0.1:{}", testing::free_port());
    let database = testing::service_config("registry").database_url;
    let prefix = testing::unique("bin");
    let _server = Server::spawn(
        cspr()
            .args(["serve", "registry"])
            .env("CSPR_AUTH_HS256_SECRET", SECRET)
            .env("CSPR_NATS_URL", testing::nats_url())
            .env("CSPR_SUBJECT_PREFIX", &prefix)
            .env("CSPR_REGISTRY_ADDR", &addr)
            .env("CSPR_REGISTRY_DATABASE_URL", &database)
            .env("CSPR_TLS_CERT", pki.server().cert)
            .env("CSPR_TLS_KEY", pki.server().key)
            .env("CSPR_TLS_CLIENT_CA", pki.ca_file())
            .env("CSPR_TLS_CLIENT_AUTH", "optional")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let ca = pki.ca_file();
    let police = pki.agency_client("police-north");
    let (cert, key) = (police.cert.expect("cert"), police.key.expect("key"));
    testing::eventually_blocking("registry SERVING over TLS", testing::DEADLINE, || {
        cspr()
            .args(["health", "check", &addr, "--ca"])
            .arg(&ca)
            .output()
            .expect("health runs")
            .status
            .success()
            .then_some(())
    });
    let admin = dev_token(&["partnership_admin"], None);
    let other_agency = dev_token(&["agency"], Some("health-east"));
    let review_list = |token: &str| {
        let mut command = cspr();
        command
            .args(["review", "list", "--addr", &addr])
            .env("CSPR_TOKEN", token);
        command
    };

    // Act
    let trusted = review_list(&admin)
        .arg("--ca")
        .arg(&ca)
        .output()
        .expect("runs");
    let system_roots = cspr()
        .args(["review", "list", "--addr", &format!("https://{addr}")])
        .env("CSPR_TOKEN", &admin)
        .output()
        .expect("runs");
    let plaintext = review_list(&admin).output().expect("runs");
    let wrong_agency = review_list(&other_agency)
        .env("CSPR_TLS_CA", &ca)
        .env("CSPR_TLS_CLIENT_CERT", &cert)
        .env("CSPR_TLS_CLIENT_KEY", &key)
        .output()
        .expect("runs");

    // Assert: with the CA the command is answered; without it the server's certificate is
    // refused by name, and plaintext gets no answer; an agency token over another agency's
    // certificate is refused as such.
    assert!(trusted.status.success(), "{trusted:?}");
    let stderr =
        |output: &std::process::Output| String::from_utf8_lossy(&output.stderr).to_string();
    assert!(!system_roots.status.success());
    assert!(
        stderr(&system_roots).contains("invalid peer certificate: UnknownIssuer"),
        "{}",
        stderr(&system_roots)
    );
    assert!(!plaintext.status.success());
    assert!(
        stderr(&plaintext).contains("transport error"),
        "{}",
        stderr(&plaintext)
    );
    assert!(!wrong_agency.status.success());
    assert!(
        stderr(&wrong_agency).contains(
            "permission denied: the token's org 'health-east' is not the client certificate's agency 'police-north'"
        ),
        "{}",
        stderr(&wrong_agency)
    );

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    drop(_server);
    runtime.block_on(async {
        testing::delete_streams(&testing::nats_url(), &prefix).await;
        testing::drop_database(&database).await;
    });
}

//! The agency lead's and the panel's pages of the web front end, over HTTP in front of a
//! whole `cspr serve all`: an agency sees its report request, uploads its report as a
//! narrative and a chronology spreadsheet (every bad row named, nothing stored until all are
//! valid, a retry not a second version), another agency cannot see it; the panel chair
//! returns it with a reason the agency then sees, the agency resubmits, the chair accepts;
//! a panel member reads it but may not decide.

mod common;

use common::Isolated;
use common::walk::{Dates, Setup, Walk, agency};
use common::web::{Browser, Site, assert_contains, runtime};
use cspr_platform::testing;
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use cspr_proto::submissions::v1 as submissions;
use reqwest::StatusCode;

/// A review at its terms of reference (scope 2024-09-15 to 2026-03-09, reports due on 1 May
/// 2099), asking the police and the health trust for reports: at SCOPING unless `appoint`ed
/// (then at ENGAGEMENT).
async fn review_with_terms(site: &Site, appoint: bool) -> Walk {
    let stage = if appoint {
        registry::Stage::Engagement
    } else {
        registry::Stage::Scoping
    };
    Walk::set_up(
        site,
        Setup {
            agencies: vec![
                agency("police", "Southvale Police"),
                agency("health", "Southvale Health Trust"),
            ],
            dates: Dates::march_2026(Some(Date {
                year: 2099,
                month: 5,
                day: 1,
            })),
            appoint,
            stage,
            ..Setup::default()
        },
    )
    .await
}

const HEADER: &str = "date,time,service,practitioner_name,practitioner_role,description,outcome\n";

/// The upload form as a browser sends it.
fn upload(based_on: i32, summary: &str, csv: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("based_on", based_on.to_string())
        .text("author_name", "Sam Lead")
        .text("author_role", "Safeguarding lead")
        .text("summary", summary.to_string())
        .text("analysis_of_involvement", "Officers attended twice.")
        .text("what_went_well", "")
        .text("what_could_have_been_better", "")
        .text("learning", "Share concerns sooner.")
        .part(
            "chronology",
            reqwest::multipart::Part::bytes(csv.as_bytes().to_vec())
                .file_name("chronology.csv")
                .mime_str("text/csv")
                .expect("mime"),
        )
}

#[test]
fn an_agency_uploads_its_report_and_the_panel_returns_then_accepts_it() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let mut walk = review_with_terms(&site, false).await;
        let id = walk.id.clone();
        let path = format!("/agency/reviews/{id}");
        let mut police =
            Browser::signed_in(&site, "Sam Lead", &["agency"], Some("police")).await;

        // The requests arrive from the registry's terms of reference event.
        walk.report_requests(2).await;
        let list = police.get("/agency").await.ok();
        assert!(list.contains(&id), "{list}");
        assert_contains(&list, &["1 May 2099", "Requested", "govuk-tag--blue"]);
        let form = police.get(&path).await.ok();
        assert_contains(
            &form,
            &[
                "Southvale Police",
                "15 September 2024 to 9 March 2026",
                "enctype=\"multipart/form-data\"",
                "name=\"based_on\" value=\"0\"",
            ],
        );

        // The template's header row.
        let template = police.get("/agency/chronology-template.csv").await.ok();
        assert_eq!(template, HEADER.replace('\n', "\r\n"));

        // A bad row: named by row and column, nothing stored.
        let bad = format!(
            "{HEADER}2025-01-10,09:30,Home visit,Alex Smith,Officer,\"Visited, concerns noted\",Referral made\n\
             2023-05-01,,Phone call,,,Called the school,\n\
             2025-02-01,25:00,,,,Saw the child,\n"
        );
        let refused = police
            .post_multipart(&path, upload(0, "Two contacts.", &bad))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert_contains(
            &refused.html,
            &[
                "There is a problem",
                "href=\"#chronology\">Row 3, column date: 2023-05-01 is outside the scope period 2024-09-15 to 2026-03-09.",
                "href=\"#chronology\">Row 4, column time: HH:MM, 24-hour, or empty.",
                "href=\"#chronology\">Row 4, column service: enter a value.",
                // What was typed is kept.
                "Two contacts.",
            ],
        );
        assert!(walk.agency_report("police").await.is_none(), "nothing stored");
        // An upload whose CSRF token is not the session's (the form's comes first) is refused.
        let forged = police
            .post_multipart(
                &path,
                reqwest::multipart::Form::new()
                    .text("csrf_token", "forged")
                    .text("based_on", "0"),
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.html);

        // The corrected file is stored; the same upload again is not a second version.
        let good = format!(
            "{HEADER}2025-01-10,09:30,Home visit,Alex Smith,Officer,\"Visited, concerns noted\",Referral made\n\
             2025-05-01,,Phone call,,,Called the school,\n"
        );
        for _ in 0..2 {
            let sent = police
                .post_multipart(&path, upload(0, "Two contacts.", &good))
                .await;
            assert_eq!(sent.redirected(), path);
        }
        let report = walk.agency_report("police").await.expect("stored");
        assert_eq!(report.version, 1);
        assert_eq!(report.entry_count, 2);
        assert_eq!(report.author_name, "Sam Lead");
        assert_eq!(
            report.narrative.expect("narrative").summary,
            "Two contacts."
        );
        let shown = police.get(&path).await.ok();
        assert_contains(&shown, &["Submitted", "name=\"based_on\" value=\"1\""]);

        // Another agency sees neither the request nor the page.
        let mut health =
            Browser::signed_in(&site, "Hana Lead", &["agency"], Some("health")).await;
        let theirs = health.get("/agency").await.ok();
        assert!(theirs.contains("Southvale Health Trust") || theirs.contains(&id));
        assert!(!theirs.contains("Southvale Police"), "{theirs}");
        // On the same review, the health trust's page is its own request, not the police's.
        let own = health.get(&path).await.ok();
        assert_contains(&own, &["Southvale Health Trust", "name=\"based_on\" value=\"0\""]);
        assert!(!own.contains("Southvale Police"), "{own}");
        // An agency not asked for this review: not found, and its upload is not taken.
        let mut fire = Browser::signed_in(&site, "Fay Lead", &["agency"], Some("fire")).await;
        assert_eq!(fire.get(&path).await.status, StatusCode::NOT_FOUND);
        let posted = fire
            .post_multipart(&path, upload(0, "Not ours.", &good))
            .await;
        assert_eq!(posted.status, StatusCode::NOT_FOUND, "{}", posted.html);
        assert_eq!(walk.agency_report("police").await.expect("stored").version, 1);
        // Someone who is no agency's has no agency pages.
        let mut member = Browser::signed_in(&site, "Pat Member", &["panel_member"], None).await;
        assert_eq!(member.get("/agency").await.status, StatusCode::FORBIDDEN);

        panel_decides(&site, &mut walk, &mut police, &mut member, &good).await;
    });
}

/// The panel's part: the chair returns the report, the agency sees why and resubmits, the
/// chair accepts; a panel member reads but may not decide.
async fn panel_decides(
    site: &Site,
    walk: &mut Walk,
    police: &mut Browser,
    member: &mut Browser,
    good: &str,
) {
    let id = walk.id.clone();
    let mut chair = Browser::signed_in(site, "Tess Chair", &["panel_chair"], None).await;
    let reports = chair.get(&format!("/panel/reviews/{id}")).await.ok();
    assert_contains(
        &reports,
        &[
            "Southvale Police",
            "Southvale Health Trust",
            "Submitted",
            "by Sam Lead",
        ],
    );
    let report_path = format!("/panel/reviews/{id}/agencies/police");
    let report = chair.get(&report_path).await.ok();
    assert_contains(
        &report,
        &[
            "Two contacts.",
            "Officers attended twice.",
            "Sam Lead, Safeguarding lead",
            "Chronology (version 1)",
            "10 January 2025",
            "Alex Smith (Officer)",
            "Visited, concerns noted",
            "1 May 2025",
            "Called the school",
            "Accept the report",
            "Return the report",
        ],
    );

    // Returning needs what is missing.
    let refused = chair
        .post(
            &format!("{report_path}/return"),
            &[("version", "1".into()), ("missing", " ".into())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert_contains(
        &refused.html,
        &["href=\"#missing\">Enter what is missing or must change"],
    );
    let returned = chair
        .post(
            &format!("{report_path}/return"),
            &[
                ("version", "1".into()),
                ("missing", "Add the March visits.".into()),
            ],
        )
        .await;
    assert_eq!(returned.redirected(), report_path);
    // It is no longer awaiting the panel: accepting now is refused, in words.
    let late = chair
        .post(&format!("{report_path}/accept"), &[("version", "1".into())])
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.html);
    assert_contains(
        &late.html,
        &["This cannot be done now", "not awaiting the panel"],
    );

    // The agency sees why, and sends a new version.
    let list = police.get("/agency").await.ok();
    assert_contains(
        &list,
        &["Returned", "The panel said: Add the March visits."],
    );
    let path = format!("/agency/reviews/{id}");
    let page = police.get(&path).await.ok();
    assert_contains(
        &page,
        &[
            "The panel returned version 1: Add the March visits.",
            "Send a new version",
            "name=\"based_on\" value=\"1\"",
        ],
    );
    let more = format!("{good}2025-03-02,14:00,Home visit,Alex Smith,Officer,March visit,\n");
    let sent = police
        .post_multipart(&path, upload(1, "Three contacts.", &more))
        .await;
    assert_eq!(sent.redirected(), path);
    let stored = walk.agency_report("police").await.expect("stored");
    assert_eq!((stored.version, stored.entry_count), (2, 3));

    // A panel member reads it but gets no decision forms, and a post is refused.
    let read = member.get(&report_path).await.ok();
    assert_contains(
        &read,
        &["Three contacts.", "Chronology (version 2)", "March visit"],
    );
    assert!(!read.contains("/accept"), "{read}");
    assert!(!read.contains("Waive the report"), "{read}");
    let forbidden = member
        .post(&format!("{report_path}/accept"), &[("version", "2".into())])
        .await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "{}",
        forbidden.html
    );
    assert_eq!(
        walk.agency_report("police").await.expect("stored").status,
        submissions::ReportStatus::Submitted as i32
    );

    // The chair accepts version 2.
    let accepted = chair
        .post(&format!("{report_path}/accept"), &[("version", "2".into())])
        .await;
    assert_eq!(accepted.redirected(), report_path);
    assert_eq!(
        walk.agency_report("police").await.expect("stored").status,
        submissions::ReportStatus::Accepted as i32
    );
    let after = chair.get(&report_path).await.ok();
    assert_contains(&after, &["Accepted"]);
    assert!(!after.contains("Accept the report"), "{after}");
    assert_contains(&police.get("/agency").await.ok(), &["Accepted"]);

    // The health trust sent nothing: the chair waives it, with the reason, required.
    let health_path = format!("/panel/reviews/{id}/agencies/health");
    let health = chair.get(&health_path).await.ok();
    assert_contains(&health, &["Nothing has been sent yet", "Waive the report"]);
    assert!(!health.contains("Accept the report"), "{health}");
    let refused = chair
        .post(
            &format!("{health_path}/waive"),
            &[("reason", String::new())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert_contains(
        &refused.html,
        &["href=\"#reason\">Enter why the report is not needed"],
    );
    let waived = chair
        .post(
            &format!("{health_path}/waive"),
            &[("reason", "No contact with the family.".into())],
        )
        .await;
    assert_eq!(waived.redirected(), health_path);
    assert_contains(
        &chair.get(&health_path).await.ok(),
        &["Waived: No contact with the family."],
    );
    let forbidden = member
        .post(&format!("{health_path}/waive"), &[("reason", "x".into())])
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
}

/// The reviewer's overview report submitted twice, on a review walked to panel approval
/// (both agency reports waived).
async fn review_with_two_overview_versions(site: &Site) -> Walk {
    let mut walk = review_with_terms(site, true).await;
    walk.waived_to_drafting().await;
    for (findings, second) in [
        (
            "Concerns about neglect were not shared.",
            "Audit the neglect toolkit.",
        ),
        (
            "Concerns about neglect were not shared with the school <quickly>.",
            "Train staff on the neglect toolkit.",
        ),
    ] {
        walk.submit_overview(
            findings,
            &[
                ("R1", "Agree an information-sharing protocol."),
                ("R2", second),
            ],
        )
        .await;
    }
    walk
}

#[test]
fn the_chair_approves_the_overview_report_seeing_what_changed() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let mut walk = review_with_two_overview_versions(&site).await;
        let id = walk.id.clone();
        let path = format!("/panel/reviews/{id}/overview");
        let mut chair = Browser::signed_in(&site, "Tess Chair", &["panel_chair"], None).await;
        let page = chair.get(&path).await.ok();
        assert_contains(
            &page,
            &[
                "Overview report, version 2",
                "What changed since version 1",
                // Escaped, inside the insertion.
                "&lt;quickly&gt;",
                "<ins>",
                "<del>",
                "<del>R2: Audit the neglect toolkit. (to partnership)</del>",
                "<ins>R2: Train staff on the neglect toolkit. (to partnership)</ins>",
                "R1: Agree an information-sharing protocol.",
                "/overview/check?version=2",
            ],
        );
        assert!(!page.contains("<quickly>"), "{page}");

        // A panel member sees the comparison but may not approve.
        let mut member = Browser::signed_in(&site, "Pat Member", &["panel_member"], None).await;
        let read = member.get(&path).await.ok();
        assert!(read.contains("What changed since version 1"), "{read}");
        assert!(!read.contains("/overview/check"), "{read}");
        assert_eq!(
            member.get(&format!("{path}/check?version=2")).await.status,
            StatusCode::FORBIDDEN
        );
        let refused = member
            .post(&format!("{path}/approve"), &[("version", "2".into())])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);

        // An old version is not the one to approve.
        let stale = chair.get(&format!("{path}/check?version=1")).await;
        assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.html);
        assert_contains(&stale.html, &["Version 1 is not the latest version (2)"]);
        let check = chair.get(&format!("{path}/check?version=2")).await.ok();
        assert_contains(
            &check,
            &[
                "Check before you approve the overview report",
                "cannot be undone",
                "name=\"version\" value=\"2\"",
            ],
        );
        // The service refuses approving a version that is not the latest, in words.
        let wrong = chair
            .post(&format!("{path}/approve"), &[("version", "1".into())])
            .await;
        assert_eq!(wrong.status, StatusCode::CONFLICT, "{}", wrong.html);
        let approved = chair
            .post(&format!("{path}/approve"), &[("version", "2".into())])
            .await;
        assert_eq!(approved.redirected(), path);
        let review = walk.review().await;
        assert_eq!(review.stage, registry::Stage::PrePublication as i32);
        let report = review.overview_report.expect("report");
        assert_eq!(report.version, 2);
        assert!(report.approve_time.is_some());
        let after = chair.get(&path).await.ok();
        assert!(!after.contains("/overview/check"), "{after}");
        assert!(!after.contains("Not yet"), "the approval is shown: {after}");
    });
}

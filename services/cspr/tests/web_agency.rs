//! The agency lead's and the panel's pages of the web front end, over HTTP in front of a
//! whole `cspr serve all`: an agency sees its report request, uploads its report as a
//! narrative and a chronology spreadsheet (every bad row named, nothing stored until all are
//! valid, a retry not a second version), another agency cannot see it; the panel chair
//! returns it with a reason the agency then sees, the agency resubmits, the chair accepts;
//! a panel member reads it but may not decide.

mod common;

use common::web::{Browser, Site};
use common::{Isolated, dev_token};
use cspr_platform::testing::{self, authed};
use cspr_proto::google::r#type::Date;
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_proto::submissions::v1 as submissions;
use cspr_proto::submissions::v1::agency_submissions_client::AgencySubmissionsClient;
use reqwest::StatusCode;
use tonic::transport::Channel;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn day(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// A review at its terms of reference (scope 2024-09-15 to 2026-03-09), asking the police
/// and the health trust for reports.
async fn review_with_terms(site: &Site) -> String {
    let admin = dev_token(&["partnership_admin", "panel_chair"], None);
    let mut client = ReviewRegistryClient::connect(site.grpc("registry"))
        .await
        .expect("registry");
    let id = client
        .create_review(authed(
            registry::CreateReviewRequest {
                request_id: "agency-suite".into(),
                child_alias: "Child Q".into(),
                local_authority: "Southvale Council".into(),
                incident_date: day(2026, 3, 9),
                became_aware_on: day(2026, 3, 10),
            },
            &admin,
        ))
        .await
        .expect("review")
        .into_inner()
        .id;
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
                agencies_in_scope: vec![
                    registry::Agency {
                        id: "police".into(),
                        name: "Southvale Police".into(),
                        contact_email: "lead@police.example.org".into(),
                    },
                    registry::Agency {
                        id: "health".into(),
                        name: "Southvale Health Trust".into(),
                        contact_email: "lead@health.example.org".into(),
                    },
                ],
                report_due_date: day(2099, 5, 1),
            },
            &admin,
        ))
        .await
        .expect("terms");
    id
}

async fn submissions_client(site: &Site) -> AgencySubmissionsClient<Channel> {
    AgencySubmissionsClient::connect(site.grpc("submissions"))
        .await
        .expect("submissions")
}

/// The police report's latest version as the service has it (None before any).
async fn police_report(site: &Site, id: &str) -> Option<submissions::AgencyReport> {
    let admin = dev_token(&["partnership_admin"], None);
    match submissions_client(site)
        .await
        .get_agency_report(authed(
            submissions::GetAgencyReportRequest {
                review_id: id.into(),
                agency_id: "police".into(),
                version: 0,
            },
            &admin,
        ))
        .await
    {
        Ok(report) => Some(report.into_inner()),
        Err(status) if status.code() == tonic::Code::NotFound => None,
        Err(status) => panic!("get agency report: {status:?}"),
    }
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

fn assert_contains(page: &str, expected: &[&str]) {
    for text in expected {
        assert!(page.contains(text), "{text:?} not in {page}");
    }
}

#[test]
fn an_agency_uploads_its_report_and_the_panel_returns_then_accepts_it() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let id = review_with_terms(&site).await;
        let path = format!("/agency/reviews/{id}");
        let mut police =
            Browser::signed_in(&site, "Sam Lead", &["agency"], Some("police")).await;

        // The requests arrive from the registry's terms of reference event.
        let admin = dev_token(&["partnership_admin"], None);
        testing::eventually("both report requests", testing::DEADLINE, || {
            let (url, admin, id) = (site.grpc("submissions"), admin.clone(), id.clone());
            async move {
                let mut client = AgencySubmissionsClient::connect(url).await.ok()?;
                let listed = client
                    .list_report_requests(authed(
                        submissions::ListReportRequestsRequest {
                            review_id: id,
                            ..Default::default()
                        },
                        &admin,
                    ))
                    .await
                    .ok()?
                    .into_inner();
                (listed.report_requests.len() == 2).then_some(())
            }
        })
        .await;
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
        assert!(police_report(&site, &id).await.is_none(), "nothing stored");
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
        let report = police_report(&site, &id).await.expect("stored");
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
        assert_eq!(police_report(&site, &id).await.expect("stored").version, 1);
        // Someone who is no agency's has no agency pages.
        let mut member = Browser::signed_in(&site, "Pat Member", &["panel_member"], None).await;
        assert_eq!(member.get("/agency").await.status, StatusCode::FORBIDDEN);

        panel_decides(&site, &id, &mut police, &mut member, &good).await;
    });
}

/// The panel's part: the chair returns the report, the agency sees why and resubmits, the
/// chair accepts; a panel member reads but may not decide.
async fn panel_decides(
    site: &Site,
    id: &str,
    police: &mut Browser,
    member: &mut Browser,
    good: &str,
) {
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
    let stored = police_report(site, id).await.expect("stored");
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
        police_report(site, id).await.expect("stored").status,
        submissions::ReportStatus::Submitted as i32
    );

    // The chair accepts version 2.
    let accepted = chair
        .post(&format!("{report_path}/accept"), &[("version", "2".into())])
        .await;
    assert_eq!(accepted.redirected(), report_path);
    assert_eq!(
        police_report(site, id).await.expect("stored").status,
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
async fn review_with_two_overview_versions(site: &Site) -> String {
    let id = review_with_terms(site).await;
    let admin = dev_token(&["partnership_admin"], None);
    let chair = dev_token(&["panel_chair"], None);
    let reviewer = dev_token(&["reviewer"], None);
    let mut registry_client = ReviewRegistryClient::connect(site.grpc("registry"))
        .await
        .expect("registry");
    registry_client
        .appoint_panel_member(authed(
            registry::AppointPanelMemberRequest {
                review_id: id.clone(),
                request_id: "chair".into(),
                name: "Tess Holroyd".into(),
                email: "tess@panel.southvale.example.org".into(),
                organisation: "Southvale Police".into(),
                role: registry::PanelRole::Chair as i32,
                declares_no_involvement: true,
                independence_statement: String::new(),
            },
            &admin,
        ))
        .await
        .expect("chair");
    registry_client
        .appoint_reviewer(authed(
            registry::AppointReviewerRequest {
                review_id: id.clone(),
                name: "Isla Oakes".into(),
                email: "isla@reviewers.example.org".into(),
                // The development tokens' subject.
                subject: "someone".into(),
                appointed_on: day(2026, 3, 26),
            },
            &admin,
        ))
        .await
        .expect("reviewer");
    for stage in [
        registry::Stage::InformationGathering,
        registry::Stage::Engagement,
    ] {
        registry_client
            .advance_stage(authed(
                registry::AdvanceStageRequest {
                    review_id: id.clone(),
                    to_stage: stage as i32,
                },
                &admin,
            ))
            .await
            .expect("advance");
    }
    for agency in ["police", "health"] {
        testing::eventually("the report request, waived", testing::DEADLINE, || {
            let (url, chair, id) = (site.grpc("submissions"), chair.clone(), id.clone());
            async move {
                let mut client = AgencySubmissionsClient::connect(url).await.ok()?;
                client
                    .waive_agency_report(authed(
                        submissions::WaiveAgencyReportRequest {
                            review_id: id,
                            agency_id: agency.into(),
                            reason: "No involvement".into(),
                        },
                        &chair,
                    ))
                    .await
                    .ok()
            }
        })
        .await;
    }
    // The registry learns of the waivers over the bus.
    testing::eventually("overview drafting", testing::DEADLINE, || {
        let mut client = registry_client.clone();
        let (admin, id) = (admin.clone(), id.clone());
        async move {
            client
                .advance_stage(authed(
                    registry::AdvanceStageRequest {
                        review_id: id,
                        to_stage: registry::Stage::OverviewDrafting as i32,
                    },
                    &admin,
                ))
                .await
                .ok()
        }
    })
    .await;
    for (key, findings, second) in [
        (
            "overview-1",
            "Concerns about neglect were not shared.",
            "Audit the neglect toolkit.",
        ),
        (
            "overview-2",
            "Concerns about neglect were not shared with the school <quickly>.",
            "Train staff on the neglect toolkit.",
        ),
    ] {
        registry_client
            .submit_overview_report(authed(
                registry::SubmitOverviewReportRequest {
                    review_id: id.clone(),
                    request_id: key.into(),
                    findings: findings.into(),
                    recommendations: vec![
                        registry::Recommendation {
                            r#ref: "R1".into(),
                            text: "Agree an information-sharing protocol.".into(),
                        },
                        registry::Recommendation {
                            r#ref: "R2".into(),
                            text: second.into(),
                        },
                    ],
                },
                &reviewer,
            ))
            .await
            .expect("overview");
    }
    id
}

#[test]
fn the_chair_approves_the_overview_report_seeing_what_changed() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let id = review_with_two_overview_versions(&site).await;
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
                "<del>R2: Audit the neglect toolkit.</del>",
                "<ins>R2: Train staff on the neglect toolkit.</ins>",
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
        let review = ReviewRegistryClient::connect(site.grpc("registry"))
            .await
            .expect("registry")
            .get_review(authed(
                registry::GetReviewRequest {
                    review_id: id.clone(),
                },
                &dev_token(&["partnership_admin"], None),
            ))
            .await
            .expect("review")
            .into_inner();
        assert_eq!(review.stage, registry::Stage::PrePublication as i32);
        let report = review.overview_report.expect("report");
        assert_eq!(report.version, 2);
        assert!(report.approve_time.is_some());
        let after = chair.get(&path).await.ok();
        assert!(!after.contains("/overview/check"), "{after}");
        assert!(!after.contains("Not yet"), "the approval is shown: {after}");
    });
}

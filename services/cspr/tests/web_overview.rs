//! The overview report as a structured document in the web front end, over HTTP in front of
//! a whole `cspr serve all`: the reviewer's form asks for the findings on each key line of
//! enquiry of the terms and the three questions (naming what is missing), addresses a
//! recommendation to an agency in scope, submits; a panel member comments on a section; the
//! reviewer sees the open comment on the form and answers it with the next version; the
//! panel's page shows the sections, what changed, and the answer.

mod common;

use common::Isolated;
use common::walk::{REVIEWER, Walk};
use common::web::{Browser, Site, assert_contains, date_fields, pairs, request_id, runtime};
use cspr_platform::testing::{self, authed};
use cspr_proto::registry::v1 as registry;
use reqwest::StatusCode;

/// The overview form filled in: the summary, the walk's one line of enquiry, the sections,
/// recommendation R1 to `to`.
fn report(key: &str, summary: &str, to: &str) -> Vec<(String, String)> {
    pairs(&[
        ("request_id", key),
        ("findings", summary),
        (
            "enquiry_1",
            "Health and social care did not\r\nshare the neglect concerns.",
        ),
        ("standards_met", "Not in the health visiting service."),
        (
            "policies_followed",
            "The neglect strategy was not followed.",
        ),
        ("working_together", "Concerns stayed within each agency."),
        (
            "good_practice",
            "The school's designated lead acted the same day.",
        ),
        ("learning", "Neglect needs a shared picture over time."),
        ("ref_1", "R1"),
        ("text_1", "Agree a neglect information-sharing protocol."),
        ("to_1", to),
        ("to_1", "partnership"),
    ])
}

#[test]
fn the_reviewer_writes_the_report_in_sections_and_answers_the_panels_comment() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let mut walk = Walk::engaged(&site).await;
        walk.waived_to_drafting().await;
        let agency = walk.agencies[0].clone();
        let review = walk.review().await;
        let line = review
            .terms_of_reference
            .as_ref()
            .map(|terms| terms.key_lines_of_enquiry[0].clone())
            .expect("a line of enquiry");
        let form_path = format!("/reviews/{}/overview", walk.id);
        let mut isla = Browser::signed_in(&site, REVIEWER, &["reviewer"], None).await;

        // The form asks for each line of enquiry by its words, and every section.
        let form = isla.get(&form_path).await.ok();
        assert_contains(
            &form,
            &[
                "Findings on each key line of enquiry",
                &line,
                "Were the expected standards of practice met?",
                "Were policies and procedures followed?",
                "What can be learned about the way organisations work together?",
                "Good practice",
                "Addressed to",
                "The safeguarding partnership",
            ],
        );
        let key = request_id(&form);
        let mut missing = report(&key, "Neglect was not seen.", &agency);
        missing.retain(|(name, _)| name != "enquiry_1" && name != "working_together");
        let refused = isla.post_pairs(&form_path, &missing).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert_contains(
            &refused.html,
            &[
                "href=\"#enquiry_1\">Enter the findings on this line of enquiry",
                "href=\"#working_together\">Answer",
                "Neglect was not seen.",
            ],
        );

        // Checked, then submitted: version 1, in the terms' words, addressed as ticked.
        let check = isla
            .post_pairs(&form_path, &report(&key, "Neglect was not seen.", &agency))
            .await
            .ok();
        assert_contains(
            &check,
            &[
                "Check your overview report before submitting it",
                &line,
                "Health and social care did not",
                "To: ",
            ],
        );
        let submitted = isla
            .post_pairs(
                &format!("{form_path}/submit"),
                &report(&key, "Neglect was not seen.", &agency),
            )
            .await;
        assert_eq!(
            submitted.redirected(),
            format!("/reviews/{}/workspace", walk.id)
        );
        let first = walk.review().await.overview_report.expect("version 1");
        assert_eq!(first.version, 1);
        assert_eq!(
            first.enquiry_findings,
            vec![registry::EnquiryFindings {
                line_of_enquiry: line.clone(),
                findings: "Health and social care did not\nshare the neglect concerns.".into(),
            }]
        );
        assert_eq!(
            first.recommendations[0].addressed_to,
            vec![agency.clone(), "partnership".to_string()]
        );

        // A panel member comments on the line of enquiry; the form names the sections.
        let panel_path = format!("/panel/reviews/{}/overview", walk.id);
        let mut pat = Browser::signed_in(&site, "Pat Member", &["panel_member"], None).await;
        let page = pat.get(&panel_path).await.ok();
        assert_contains(
            &page,
            &[
                &format!("Findings: {line}"),
                "Neglect needs a shared picture over time.",
                "No comments yet.",
                "Add the comment",
                "value=\"enquiry:1\"",
            ],
        );
        let refused = pat
            .post(
                &format!("{panel_path}/comment"),
                &[
                    ("version", "1".into()),
                    ("section", "enquiry:1".into()),
                    ("text", String::new()),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert_contains(&refused.html, &["href=\"#text\">Enter your comment"]);
        let commented = pat
            .post(
                &format!("{panel_path}/comment"),
                &[
                    ("version", "1".into()),
                    ("section", "enquiry:1".into()),
                    (
                        "text",
                        "Say which health service, without naming staff.".into(),
                    ),
                ],
            )
            .await;
        assert_eq!(commented.redirected(), format!("{panel_path}#comments"));
        let page = pat.get(&panel_path).await.ok();
        assert_contains(
            &page,
            &[
                "Say which health service, without naming staff.",
                ">Open</strong>",
            ],
        );

        // The reviewer sees it on the form and answers it with version 2.
        let form = isla.get(&form_path).await.ok();
        assert_contains(
            &form,
            &[
                "The panel's open comments",
                "Say which health service, without naming staff.",
                &format!("Findings: {line}"),
            ],
        );
        let comment_id = walk
            .registry
            .get_overview_report(authed(
                registry::GetOverviewReportRequest {
                    review_id: walk.id.clone(),
                    version: 1,
                },
                &walk.people.reviewer,
            ))
            .await
            .expect("version 1")
            .into_inner()
            .comments[0]
            .id
            .clone();
        let key = request_id(&form);
        let mut second = report(&key, "Neglect was not seen by health visiting.", &agency);
        second.push((
            format!("answer_{comment_id}"),
            "Named the health visiting service.".into(),
        ));
        let submitted = isla
            .post_pairs(&format!("{form_path}/submit"), &second)
            .await;
        assert_eq!(
            submitted.redirected(),
            format!("/reviews/{}/workspace", walk.id)
        );
        let page = pat.get(&panel_path).await.ok();
        assert_contains(
            &page,
            &[
                "Overview report, version 2",
                "What changed since version 1",
                "Named the health visiting service.",
                "in version 2",
            ],
        );
        // Nothing open is left on the reviewer's form.
        let form = isla.get(&form_path).await.ok();
        assert!(!form.contains("The panel's open comments"), "{form}");

        // Edits that cross: the form was opened at version 2, version 3 was submitted from
        // another session meanwhile; the draft is kept beside the latest version, and sent
        // again it follows it as version 4.
        assert!(form.contains("name=\"based_on_version\" value=\"2\""), "{form}");
        let key = request_id(&form);
        walk.submit_overview("From the other session.", &[("R1", "Another.")])
            .await;
        let mut draft = report(&key, "My draft, made from version 2.", &agency);
        draft.push(("based_on_version".into(), "2".into()));
        let crossed = isla
            .post_pairs(&format!("{form_path}/submit"), &draft)
            .await;
        assert_eq!(crossed.status, StatusCode::CONFLICT, "{}", crossed.html);
        assert_contains(
            &crossed.html,
            &[
                "Changed by someone else since you opened it",
                "The overview report was changed since version 2, which this was made from: the current version is 3.",
                "From the other session.",
                "My draft, made from version 2.",
                "name=\"based_on_version\" value=\"3\"",
            ],
        );
        draft.retain(|(name, _)| name != "based_on_version");
        draft.push(("based_on_version".into(), "3".into()));
        let submitted = isla
            .post_pairs(&format!("{form_path}/submit"), &draft)
            .await;
        assert_eq!(
            submitted.redirected(),
            format!("/reviews/{}/workspace", walk.id)
        );
        let latest = walk.review().await.overview_report.expect("version 4");
        assert_eq!(
            (latest.version, latest.findings.as_str()),
            (4, "My draft, made from version 2.")
        );
    });
}

#[test]
fn terms_of_reference_changed_by_someone_else_are_shown_beside_the_form() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let mut walk = Walk::engaged(&site).await;
        let path = format!("/reviews/{}/terms-of-reference", walk.id);
        let mut ann = Browser::signed_in(&site, "Ann Admin", &["partnership_admin"], None).await;
        let form = ann.get(&path).await.ok();
        assert!(form.contains("name=\"based_on_version\" value=\"1\""), "{form}");

        // The chair revises the terms while Ann has the form open.
        let terms = walk.review().await.terms_of_reference.expect("terms");
        walk.registry
            .set_terms_of_reference(authed(
                registry::SetTermsOfReferenceRequest {
                    review_id: walk.id.clone(),
                    scope_start: terms.scope_start,
                    scope_end: terms.scope_end,
                    key_lines_of_enquiry: vec!["Was the chair's question asked?".into()],
                    methodology: "The chair's methodology".into(),
                    agencies_in_scope: terms.agencies_in_scope.clone(),
                    report_due_date: terms.report_due_date,
                    based_on_version: Some(1),
                },
                &walk.people.chair,
            ))
            .await
            .expect("the chair's revision");

        let agency = &terms.agencies_in_scope[0];
        let mut mine = pairs(&[
            ("based_on_version", "1"),
            ("key_lines_of_enquiry", "Was Ann's question asked?"),
            ("methodology", "Ann's methodology"),
            ("agency_id_0", &agency.id),
            ("agency_name_0", &agency.name),
            ("agency_email_0", &agency.contact_email),
        ]);
        mine.extend(date_fields("scope_start", -400));
        mine.extend(date_fields("scope_end", -12));
        mine.extend(date_fields("report_due_date", 30));
        let crossed = ann.post_pairs(&path, &mine).await;
        assert_eq!(crossed.status, StatusCode::CONFLICT, "{}", crossed.html);
        assert_contains(
            &crossed.html,
            &[
                "Changed by someone else since you opened it",
                "The terms of reference were changed since version 1, which this was made from: the current version is 2.",
                "Their version 2",
                "Was the chair&#x27;s question asked?",
                "Was Ann&#x27;s question asked?",
                "name=\"based_on_version\" value=\"2\"",
            ],
        );
        // Sent again, made from version 2 now: Ann's terms are version 3.
        mine[0].1 = "2".into();
        assert_eq!(
            ann.post_pairs(&path, &mine).await.redirected(),
            format!("/reviews/{}", walk.id)
        );
        let terms = walk.review().await.terms_of_reference.expect("terms");
        assert_eq!(
            (terms.version, terms.key_lines_of_enquiry),
            (3, vec!["Was Ann's question asked?".to_string()])
        );
    });
}

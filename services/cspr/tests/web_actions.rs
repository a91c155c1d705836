//! The action plan's pages in front of a whole `cspr serve all`: the business unit adds an
//! action to an approved recommendation, the owner agency's lead records progress and
//! evidence of impact, the business unit verifies it; another agency cannot see it, and
//! the roles that may not are refused.

mod common;

use common::Isolated;
use common::walk::Walk;
use common::web::{Browser, Site, assert_contains, date_parts, request_id, runtime};
use cspr_platform::testing;
use reqwest::StatusCode;

#[test]
fn an_action_is_added_progressed_with_evidence_and_verified() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let walk = Walk::approved(&site).await;
        let id = walk.id.clone();
        let plan = format!("/reviews/{id}/actions");
        let mut admin = Browser::signed_in(&site, "Ann Admin", &["partnership_admin"], None).await;

        // The review's page leads to its plan (and to what else the role may see).
        let review = admin.get(&format!("/reviews/{id}")).await.ok();
        assert_contains(
            &review,
            &[
                "Action plan</a>",
                "Audit trail</a>",
                "Combined chronology</a>",
            ],
        );
        let empty = admin.get(&plan).await.ok();
        assert!(empty.contains("Action plan"), "{empty}");
        assert!(empty.contains("No actions"), "{empty}");
        assert!(empty.contains("Add an action"), "{empty}");

        let form = admin.get(&format!("{plan}/new")).await.ok();
        assert!(
            form.contains("R1: Agree an information-sharing protocol."),
            "the approved recommendation to choose: {form}"
        );
        assert!(
            form.contains("Southvale Children&#x27;s Social Care"),
            "{form}"
        );
        let key = request_id(&form);

        // Nothing chosen, a due date half typed: each problem by its field.
        let refused = admin
            .post(
                &format!("{plan}/new"),
                &[
                    ("request_id", key.clone()),
                    ("description", "Launch a protocol".into()),
                    ("due_date-day", "1".into()),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert_contains(
            &refused.html,
            &[
                "href=\"#recommendation_ref\">Choose the recommendation the action answers",
                "href=\"#owner_agency\">Choose the agency that owns the action",
                "href=\"#due_date\">The date the action is due must include a month and a year",
                ">Launch a protocol</textarea>",
            ],
        );

        // The actions service learns of the approval over the bus: the same form (the same
        // key) is sent until it is taken, and it makes one action.
        let due = date_parts(60);
        let fields = vec![
            ("request_id", key.clone()),
            ("recommendation_ref", "R1".to_string()),
            (
                "description",
                "Agree and launch a neglect information-sharing protocol.".into(),
            ),
            ("owner_agency", "csc".into()),
            ("owner_email", "lead@csc.southvale.example.org".into()),
            ("due_date-day", due.0),
            ("due_date-month", due.1),
            ("due_date-year", due.2),
            (
                "measure_of_success",
                "Audit shows concerns shared within 24 hours.".into(),
            ),
        ];
        let created = testing::poll_until(testing::DEADLINE, || {
            let (mut admin, fields, path) = (admin.clone(), fields.clone(), format!("{plan}/new"));
            async move {
                let page = admin.post(&path, &fields).await;
                page.status
                    .is_redirection()
                    .then_some(page.location)
                    .flatten()
            }
        })
        .await;
        let Some(created) = created else {
            let page = admin.post(&format!("{plan}/new"), &fields).await;
            panic!("the action was never taken: {}: {}", page.status, page.html);
        };
        assert!(created.starts_with(&format!("{plan}/")), "{created}");
        let again = admin.post(&format!("{plan}/new"), &fields).await;
        assert_eq!(
            again.redirected(),
            created,
            "the same form is the same action"
        );
        let listed = admin.get(&plan).await.ok();
        assert_eq!(
            listed.matches("Agree and launch a neglect").count(),
            1,
            "one action however often sent: {listed}"
        );
        assert!(listed.contains("Not started"), "{listed}");
        // The owner by the name the terms of reference give it, not its id.
        assert!(
            listed.contains(
                "<td class=\"govuk-table__cell\">Southvale Children&#x27;s Social Care</td>"
            ),
            "{listed}"
        );
        let action_page = admin.get(&created).await.ok();
        assert!(
            action_page
                .contains("Southvale Children&#x27;s Social Care (lead@csc.southvale.example.org)"),
            "{action_page}"
        );

        // The owner agency's lead sees it among their actions and records progress.
        let mut csc = Browser::signed_in(&site, "Chris Lead", &["agency"], Some("csc")).await;
        assert_eq!(
            csc.get("/").await.redirected(),
            "/agency",
            "an agency lead starts at their report requests"
        );
        let own = csc.get("/actions").await.ok();
        assert!(own.contains("Agree and launch a neglect"), "{own}");
        let page = csc.get(&created).await.ok();
        assert!(page.contains("Record progress"), "{page}");
        assert!(!page.contains("Verify the evidence"), "{page}");
        // Edits that cross: the business unit records progress while the lead has the page
        // open at version 1; the lead's update is shown the action as it is now, with what
        // they typed kept, and is not recorded.
        assert!(
            page.contains("name=\"based_on_version\" value=\"1\""),
            "{page}"
        );
        let theirs = admin
            .post(
                &format!("{created}/progress"),
                &[
                    ("based_on_version", "1".into()),
                    ("status", "ACTION_STATUS_IN_PROGRESS".into()),
                    ("note", "The business unit chased the draft protocol".into()),
                ],
            )
            .await;
        assert_eq!(theirs.redirected(), created, "{}", theirs.html);
        let crossed = csc
            .post(
                &format!("{created}/progress"),
                &[
                    ("based_on_version", "1".into()),
                    ("status", "ACTION_STATUS_IN_PROGRESS".into()),
                    ("note", "Drafting the protocol with health".into()),
                ],
            )
            .await;
        assert_eq!(crossed.status, StatusCode::CONFLICT, "{}", crossed.html);
        assert_contains(
            &crossed.html,
            &[
                "Changed by someone else since you opened it",
                "This action was changed since version 1, which this was made from: the current version is 2.",
                "The business unit chased the draft protocol",
                "Drafting the protocol with health</textarea>",
                "name=\"based_on_version\" value=\"2\"",
            ],
        );
        let missing = csc
            .post(
                &format!("{created}/progress"),
                &[("status", "ACTION_STATUS_CANCELLED".into())],
            )
            .await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert!(
            missing
                .html
                .contains("href=\"#cancel_reason\">Enter why the action is no longer pursued"),
            "{}",
            missing.html
        );
        let done = csc
            .post(
                &format!("{created}/progress"),
                &[
                    ("status", "ACTION_STATUS_COMPLETED".into()),
                    ("note", "Protocol launched in all teams".into()),
                    (
                        "evidence_of_impact",
                        "Audit of 40 cases: concerns shared within 24 hours in 38.".into(),
                    ),
                ],
            )
            .await;
        assert_eq!(done.redirected(), created, "{}", done.html);
        let page = csc.get(&created).await.ok();
        assert_contains(
            &page,
            &[
                "Completed",
                "Protocol launched in all teams",
                "Audit of 40 cases: concerns shared within 24 hours in 38.",
            ],
        );
        // An agency cannot verify its own evidence.
        let refused = csc
            .post(
                &format!("{created}/verify"),
                &[("verify_note", "Fine".into())],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);

        // Another agency does not see it at all.
        let mut police = Browser::signed_in(&site, "Pat Police", &["agency"], Some("police")).await;
        let theirs = police.get("/actions").await.ok();
        assert!(!theirs.contains("Agree and launch a neglect"), "{theirs}");
        assert_eq!(police.get(&created).await.status, StatusCode::NOT_FOUND);
        let refused = police
            .post(
                &format!("{created}/progress"),
                &[
                    ("status", "ACTION_STATUS_IN_PROGRESS".into()),
                    ("note", "Not ours".into()),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.html);

        // The business unit verifies the evidence.
        let page = admin.get(&created).await.ok();
        assert!(page.contains("Verify the evidence of impact"), "{page}");
        let unsaid = admin.post(&format!("{created}/verify"), &[]).await;
        assert_eq!(unsaid.status, StatusCode::BAD_REQUEST);
        assert!(
            unsaid
                .html
                .contains("href=\"#verify_note\">Enter what the partnership checked"),
            "{}",
            unsaid.html
        );
        let verified = admin
            .post(
                &format!("{created}/verify"),
                &[("verify_note", "Audit sample checked".into())],
            )
            .await;
        assert_eq!(verified.redirected(), created, "{}", verified.html);
        let page = admin.get(&created).await.ok();
        assert!(page.contains("Verified"), "{page}");
        assert!(
            !page.contains("Record progress"),
            "a verified action is done: {page}"
        );
        let summary = admin.get(&plan).await.ok();
        assert!(summary.contains("Plan complete"), "{summary}");
        assert!(summary.contains("100%"), "{summary}");

        // A panel member reads the plan but may not add to it.
        let mut member = Browser::signed_in(&site, "Mo Member", &["panel_member"], None).await;
        let review = member.get(&format!("/reviews/{id}")).await.ok();
        assert!(review.contains("Action plan</a>"), "{review}");
        assert!(
            !review.contains("Audit trail</a>"),
            "not the panel's: {review}"
        );
        assert!(
            member
                .get(&plan)
                .await
                .ok()
                .contains("Agree and launch a neglect")
        );
        assert_eq!(
            member.get(&format!("{plan}/new")).await.status,
            StatusCode::FORBIDDEN
        );
    });
}

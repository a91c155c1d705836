//! The business unit's pages of the web front end, over HTTP in front of a whole
//! `cspr serve all`: recording a serious incident (the GOV.UK error summary, the date
//! input's messages, one review however often the form is sent); the command pages that
//! walk a review through its process (the decision and publication through "check your
//! answers", the panel's independence declaration, terms of reference with several agency
//! rows, the registry's refusals beside their fields or as a 409 with its reason); the
//! statutory timeline drawn as an SVG; the agency report requests arriving over the bus;
//! the paged audit trail; the dashboard's filters; and who is refused (403).

mod common;

use common::Isolated;
use common::walk::{Setup, Walk, agency};
use common::web::{Browser, Site, assert_contains, date_fields, pairs, request_id, runtime};
use cspr_platform::testing;
use reqwest::StatusCode;

#[test]
fn the_business_unit_records_a_serious_incident_once() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let mut admin = Browser::signed_in(&site, "Ann Admin", &["partnership_admin"], None).await;
        let form = admin.get("/reviews/new").await.ok();
        assert!(form.contains("Record a serious incident"), "{form}");
        let key = request_id(&form);

        // Nothing filled in but half a date: every problem in the summary, each linked.
        let refused = admin
            .post(
                "/reviews/new",
                &[
                    ("request_id", key.clone()),
                    ("child_alias", String::new()),
                    ("local_authority", "Southvale Council".into()),
                    ("incident_date-day", "9".into()),
                    ("incident_date-month", String::new()),
                    ("incident_date-year", String::new()),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_contains(
            &refused.html,
            &[
                "There is a problem",
                "href=\"#child_alias\">Enter an alias for the child",
                "href=\"#incident_date\">The date of the incident must include a month and a year",
                "href=\"#became_aware_on\">Enter the date the partnership became aware",
                "value=\"Southvale Council\"",
                "govuk-form-group--error",
            ],
        );
        assert_eq!(
            request_id(&refused.html),
            key,
            "the same key across attempts"
        );

        let fields = [
            ("request_id", key.clone()),
            ("child_alias", "Child W".into()),
            ("local_authority", "Southvale Council".into()),
            ("incident_date-day", "9".into()),
            ("incident_date-month", "3".into()),
            ("incident_date-year", "2026".into()),
            ("became_aware_on-day", "10".into()),
            ("became_aware_on-month", "3".into()),
            ("became_aware_on-year", "2026".into()),
        ];
        let created = admin.post("/reviews/new", &fields).await;
        let review = created.redirected().to_string();
        assert!(review.starts_with("/reviews/"), "{review}");
        let page = admin.get(&review).await.ok();
        assert!(page.contains("Child W"), "{page}");
        // The statutory timeline as a picture: the notification's marker, due and pending.
        assert!(page.contains("<svg "), "{page}");
        assert!(page.contains("<title id=\"timeline-title\">Statutory timeline</title>"));
        assert!(
            page.contains("class=\"deadline\" data-status=\"DEADLINE_STATUS_"),
            "{page}"
        );
        assert!(page.contains("Notification: due "), "{page}");
        assert!(page.contains("Record the notification to the national Panel"));
        // Sent again (a double click, a resend): the same review, not a second.
        let again = admin.post("/reviews/new", &fields).await;
        assert_eq!(again.redirected(), review);
        let dashboard = admin.get("/").await.ok();
        assert_eq!(dashboard.matches("Child W").count(), 1, "{dashboard}");

        // A date the service refuses (aware before the incident): beside its field.
        let mut later = fields.to_vec();
        later[0].1 = uuid_like();
        later[6].1 = "1".into();
        let refused = admin.post("/reviews/new", &later).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(
            refused.html.contains("href=\"#became_aware_on\""),
            "{}",
            refused.html
        );

        // A panel member may not record incidents: told so before filling anything in.
        let mut member = Browser::signed_in(&site, "Pat Member", &["panel_member"], None).await;
        let denied = member.get("/reviews/new").await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        assert!(
            denied.html.contains("You do not have access"),
            "{}",
            denied.html
        );
    });
}

fn uuid_like() -> String {
    "6f1c3f0e-8a7b-4c1d-9e2f-0a1b2c3d4e5f".to_string()
}

/// An attribute's value as a browser reads it.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The hidden fields of a "check your answers" page, to send as its button would.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = html;
    let marker = "<input type=\"hidden\" name=\"";
    while let Some(start) = rest.find(marker) {
        rest = &rest[start + marker.len()..];
        let name_end = rest.find('"').expect("name");
        let name = rest[..name_end].to_string();
        let value_marker = "value=\"";
        let value_start = rest.find(value_marker).expect("value") + value_marker.len();
        let value_end = value_start + rest[value_start..].find('"').expect("value end");
        let value = unescape(&rest[value_start..value_end]);
        if name != "csrf_token" {
            found.push((name, value));
        }
    }
    found
}

/// The incident form filled in for `alias`: the incident and the partnership's awareness
/// `incident` and `aware` days from today, with the form's own idempotency key.
async fn incident_form(
    admin: &mut Browser,
    alias: &str,
    incident: i64,
    aware: i64,
) -> Vec<(String, String)> {
    let form = admin.get("/reviews/new").await.ok();
    let mut fields = pairs(&[
        ("request_id", &request_id(&form)),
        ("child_alias", alias),
        ("local_authority", "Southvale Council"),
    ]);
    fields.extend(date_fields("incident_date", incident));
    fields.extend(date_fields("became_aware_on", aware));
    fields
}

#[test]
fn the_business_unit_walks_a_review_from_incident_to_information_gathering() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let mut admin = Browser::signed_in(&site, "Ann Admin", &["partnership_admin"], None).await;
        let incident = incident_form(&mut admin, "Child T", -20, -3).await;
        let created = admin.post_pairs("/reviews/new", &incident).await;
        let review = created.redirected().to_string();
        let page = admin.get(&review).await.ok();
        assert!(page.contains("Child T"), "{page}");

        // The notification: a date before the partnership became aware is refused beside
        // its field; then recorded, the review is at the rapid review.
        let notification = format!("{review}/notification");
        assert!(page.contains(&format!("href=\"{}\"", notification.replace('/', "&#x2f;"))));
        let form = admin.get(&notification).await.ok();
        assert!(form.contains("Record the notification to the national Panel"));
        let early = date_fields("sent_on", -10);
        let refused = admin.post_pairs(&notification, &early).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(
            refused
                .html
                .contains("href=\"#sent_on\">Must not be before the local authority became aware"),
            "{}",
            refused.html
        );
        let mut sent = date_fields("sent_on", -1);
        sent.push(("national_panel_reference".into(), "NP-2026-77".into()));
        assert_eq!(admin.post_pairs(&notification, &sent).await.redirected(), review);
        // Sent again (a resend): the notification recorded, not a refusal.
        assert_eq!(admin.post_pairs(&notification, &sent).await.redirected(), review);
        let page = admin.get(&review).await.ok();
        assert!(page.contains("Rapid review"), "{page}");
        assert!(page.contains("Record the rapid review decision"), "{page}");

        // The rapid review as a record: the agencies are needed; recorded, not yet sent, so
        // there is no Panel response to record.
        let rapid = format!("{review}/rapid-review");
        assert!(page.contains(&format!("href=\"{}\"", rapid.replace('/', "&#x2f;"))), "{page}");
        let form = admin.get(&rapid).await.ok();
        assert!(form.contains("When was the rapid review meeting held?"), "{form}");
        let mut record = date_fields("meeting_on", -1);
        record.push(("learning".into(), "Neglect was not recognised early.".into()));
        let refused = admin.post_pairs(&rapid, &record).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(
            refused.html.contains("href=\"#contributing_agencies\">Enter the agencies that contributed"),
            "{}",
            refused.html
        );
        record.push((
            "contributing_agencies".into(),
            "Southvale Police\r\n\r\nSouthvale Health\r\n".into(),
        ));
        assert_eq!(admin.post_pairs(&rapid, &record).await.redirected(), rapid);
        let recorded = admin.get(&rapid).await.ok();
        assert!(recorded.contains("Southvale Police\nSouthvale Health"), "{recorded}");
        assert!(!recorded.contains("Record the national Panel"), "{recorded}");

        // The decision: nothing chosen is a problem; chosen, the answers to check first
        // (nothing is recorded yet), then recorded.
        let decision = format!("{review}/decision");
        let refused = admin
            .post_pairs(&decision, &date_fields("decided_on", 0))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.html.contains("href=\"#decision\">Select whether a local review will be held"));
        let mut decided = vec![("decision".to_string(), "DECISION_LOCAL_CSPR".to_string())];
        decided.extend(date_fields("decided_on", 0));
        let check = admin.post_pairs(&decision, &decided).await.ok();
        assert!(check.contains("Check the rapid review decision before recording it"), "{check}");
        assert!(check.contains("Hold a local child safeguarding practice review"));
        assert!(check.contains("cannot be changed"));
        assert!(admin.get(&review).await.ok().contains("Rapid review"), "not yet recorded");
        let answers = hidden_fields(&check);
        assert!(answers.iter().any(|(name, value)| name == "decision" && value == "DECISION_LOCAL_CSPR"));
        let confirmed = admin
            .post_pairs(&format!("{decision}/confirm"), &answers)
            .await;
        assert_eq!(confirmed.redirected(), review, "{}", confirmed.html);
        let page = admin.get(&review).await.ok();
        assert!(page.contains("Scoping"), "{page}");

        // Sent to the national Panel with the decision; its response recorded.
        record.extend(date_fields("sent_to_panel_on", 0));
        assert_eq!(admin.post_pairs(&rapid, &record).await.redirected(), rapid);
        let sent = admin.get(&rapid).await.ok();
        let respond = format!("{review}/panel-response");
        assert!(
            sent.contains(&format!("href=\"{}\"", respond.replace('/', "&#x2f;")))
                && sent.contains("Record the national Panel's response"),
            "{sent}"
        );
        let refused = admin.post_pairs(&respond, &date_fields("received_on", 0)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.html.contains("href=\"#kind\">Select what the Panel answered"), "{}", refused.html);
        let mut response = vec![("kind".to_string(), "PANEL_RESPONSE_KIND_AGREES".to_string())];
        response.extend(date_fields("received_on", 0));
        assert_eq!(admin.post_pairs(&respond, &response).await.redirected(), rapid);
        let answered = admin.get(&rapid).await.ok();
        assert!(answered.contains("The Panel agrees with the decision"), "{answered}");

        // The partnership's rapid reviews of the year: this one became a local review.
        let year = chrono::Datelike::year(&(chrono::Utc::now().date_naive() - chrono::Duration::days(1)));
        let dashboard = admin.get("/").await.ok();
        assert!(dashboard.contains("Rapid reviews this year"), "{dashboard}");
        let summary = admin.get(&format!("/reports/rapid-reviews?year={year}")).await.ok();
        let count_of = |label: &str| {
            let start = summary.find(label).unwrap_or_else(|| panic!("{label} in {summary}"));
            let cell = &summary[start..];
            let open = cell.find("numeric\">").expect("count cell") + "numeric\">".len();
            let close = cell[open..].find('<').expect("end of the cell") + open;
            cell[open..close].to_string()
        };
        assert_eq!(count_of("Notified to the national Panel"), "1");
        assert_eq!(count_of("Became local reviews"), "1");
        assert_eq!(count_of("The Panel agreed"), "1");
        assert_eq!(count_of("Awaiting the decision"), "0");
        let mut panel_member = Browser::signed_in(&site, "Pam Member", &["panel_member"], None).await;
        let refused = panel_member.get("/reports/rapid-reviews").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);

        // Too early to move on: the registry's reason, as a 409, naming what is missing.
        let advance = format!("{review}/advance");
        let form = admin.get(&advance).await.ok();
        assert!(form.contains("value=\"STAGE_INFORMATION_GATHERING\""), "{form}");
        let too_early = admin
            .post(&advance, &[("to_stage", "STAGE_INFORMATION_GATHERING".into())])
            .await;
        assert_eq!(too_early.status, StatusCode::CONFLICT, "{}", too_early.html);
        assert_contains(
            &too_early.html,
            &[
                "This cannot be done now",
                "terms of reference not set",
                "no independent reviewer appointed",
                "no panel chair appointed",
            ],
        );

        // A panel member: the independence declaration is required.
        let panel = format!("{review}/panel-member");
        let form = admin.get(&panel).await.ok();
        let key = request_id(&form);
        let mut member = vec![
            ("request_id", key.clone()),
            ("name", "Cara Chair".to_string()),
            ("email", "cara.chair@southvale.example".to_string()),
            ("organisation", "Southvale Health".to_string()),
            ("role", "PANEL_ROLE_CHAIR".to_string()),
        ];
        let refused = admin.post(&panel, &member).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.html.contains(
            "href=\"#declares_no_involvement\">The panel member must declare they were not directly involved in the case"
        ), "{}", refused.html);
        assert_eq!(request_id(&refused.html), key);
        member.push(("declares_no_involvement", "yes".to_string()));
        member.push(("independence_statement", "I had no part in the case.".to_string()));
        assert_eq!(admin.post(&panel, &member).await.redirected(), review);
        // Sent twice: one member (the same request id).
        assert_eq!(admin.post(&panel, &member).await.redirected(), review);
        let form = admin.get(&panel).await.ok();
        assert_eq!(form.matches("Cara Chair").count(), 1, "{form}");
        assert!(form.contains("Southvale Health"));
        // A second chair, and the chair again as a member: each refusal beside its field.
        let second = [
            ("request_id", request_id(&form)),
            ("name", "Dan Deputy".to_string()),
            ("email", "dan@southvale.example".to_string()),
            ("organisation", "Southvale Police".to_string()),
            ("role", "PANEL_ROLE_CHAIR".to_string()),
            ("declares_no_involvement", "yes".to_string()),
        ];
        let refused = admin.post(&panel, &second).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(
            refused
                .html
                .contains("href=\"#role\">The panel already has a chair."),
            "{}",
            refused.html
        );
        let mut again = second.to_vec();
        again[2].1 = "cara.chair@southvale.example".into();
        again[4].1 = "PANEL_ROLE_MEMBER".into();
        let refused = admin.post(&panel, &again).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(
            refused.html.contains("href=\"#email\">Cara.chair@southvale.example is already on the panel."),
            "{}",
            refused.html
        );

        // The reviewer.
        let mut reviewer = vec![
            ("name".to_string(), "Rita Reviewer".to_string()),
            ("email".to_string(), "rita@reviews.example".to_string()),
            ("subject".to_string(), "Rita Reviewer".to_string()),
        ];
        reviewer.extend(date_fields("appointed_on", 0));
        assert_eq!(
            admin.post_pairs(&format!("{review}/reviewer"), &reviewer).await.redirected(),
            review
        );
        assert!(admin.get(&review).await.ok().contains("Rita Reviewer"));

        // The terms of reference: two agencies in rows 1 and 4 of six, the rest empty.
        let terms = format!("{review}/terms-of-reference");
        let form = admin.get(&terms).await.ok();
        assert!(form.contains("id=\"agency_email_5\""), "six rows: {form}");
        let mut set = vec![
            ("key_lines_of_enquiry".to_string(), "Was the risk recognised?\nDid agencies share information?".to_string()),
            ("methodology".to_string(), "Systems approach with a learning event".to_string()),
            ("agency_id_0".to_string(), "police".to_string()),
            ("agency_name_0".to_string(), "Southvale Police".to_string()),
            ("agency_email_0".to_string(), "reports@police.example".to_string()),
            ("agency_id_3".to_string(), "health".to_string()),
            ("agency_name_3".to_string(), "Southvale Health Trust".to_string()),
            ("agency_email_3".to_string(), "not-an-email".to_string()),
        ];
        set.extend(date_fields("scope_start", -400));
        set.extend(date_fields("scope_end", -20));
        set.extend(date_fields("report_due_date", 30));
        // The registry refuses the row's email: beside it in row 4, not row 2.
        let refused = admin.post_pairs(&terms, &set).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(refused.html.contains("href=\"#agency_email_3\""), "{}", refused.html);
        assert!(refused.html.contains("value=\"Southvale Health Trust\""));
        set[7].1 = "reports@health.example".to_string();
        let done = admin.post_pairs(&terms, &set).await;
        assert_eq!(done.redirected(), review, "{}", done.html);
        // Sent again: not a second version (which would ask the agencies again).
        assert_eq!(admin.post_pairs(&terms, &set).await.redirected(), review);

        // The report requests come over the bus: the tracker shows both, outstanding.
        let reports = format!("{review}/reports");
        let admin = std::sync::Arc::new(tokio::sync::Mutex::new(admin));
        let tracker = testing::eventually("both report requests", std::time::Duration::from_secs(30), || {
            let admin = admin.clone();
            let reports = reports.clone();
            async move {
                let page = admin.lock().await.get(&reports).await.ok();
                (page.contains("Southvale Police") && page.contains("Southvale Health Trust"))
                    .then_some(page)
            }
        })
        .await;
        assert!(tracker.contains("reports@health.example"), "{tracker}");
        assert_eq!(tracker.matches(">Outstanding</strong>").count(), 2, "{tracker}");
        let mut admin = std::sync::Arc::into_inner(admin).expect("one").into_inner();

        // The timeline: notification and rapid review met, the six-month clock running,
        // its projected completion and today.
        let page = admin.get(&review).await.ok();
        assert!(
            page.matches("data-status=\"DEADLINE_STATUS_MET\"").count() >= 2,
            "{page}"
        );
        assert!(page.contains("<title>Completion: due "), "{page}");
        assert!(page.contains("class=\"projected\""), "{page}");
        assert!(page.contains("class=\"today\""), "{page}");
        assert!(!page.contains("style="), "no inline style (CSP): {page}");
        // What was recorded, in words.
        assert_contains(
            &page,
            &[
                "Version 1:",
                "(reference NP-2026-77)",
                "A local review will be held",
                "Cara Chair, Southvale Health (chair)",
                "Agencies: Southvale Police, Southvale Health Trust",
            ],
        );
        assert!(page.contains("Notification: due "), "{page}");

        // The audit trail lists every command, and the refused one.
        // Reads are audited too (each look at the review is two: the review and its
        // timeline), so the trail runs past its first page of 50: followed by its links.
        for _ in 0..12 {
            admin.get(&review).await.ok();
        }
        let mut audit = String::new();
        let mut next = Some(format!("{review}/audit"));
        let mut pages = 0;
        while let Some(path) = next.take() {
            let page = admin.get(&path).await.ok();
            pages += 1;
            assert!(pages < 20, "too many pages");
            let marker = "class=\"govuk-link govuk-pagination__link\" href=\"";
            next = page
                .match_indices(marker)
                .map(|(at, _)| &page[at + marker.len()..])
                .map(|rest| &rest[..rest.find('"').expect("href end")])
                .map(|href| href.replace("&#x2f;", "/").replace("&amp;", "&"))
                .find(|href| href.contains("/audit?registry="));
            if pages > 1 {
                assert!(page.contains("First page"), "{page}");
            }
            audit.push_str(&page);
        }
        assert!(pages > 1, "more than one page of 50: {audit}");
        for action in [
            "CreateReview",
            "RecordNotificationSent",
            "RecordDecision",
            "AppointPanelMember",
            "AppointReviewer",
            "SetTermsOfReference",
        ] {
            assert!(audit.contains(&format!(">{action}<")), "{action}: {audit}");
        }
        assert!(audit.contains("Ann Admin"), "{audit}");
        // The whole trail: the agency reports service's too (the tracker's reads of it).
        assert!(
            audit.contains(">submissions<") && audit.contains(">ListReportRequests<"),
            "{audit}"
        );

        // Now it moves on.
        assert_eq!(
            admin
                .post(&advance, &[("to_stage", "STAGE_INFORMATION_GATHERING".into())])
                .await
                .redirected(),
            review
        );
        assert!(admin.get(&review).await.ok().contains("Information gathering"));
        let first = admin.get(&format!("{review}/audit")).await.ok();
        assert!(first.contains("rel=\"next\""), "{first}");

        // An auditor reads the trail, and has none of the commands.
        let mut auditor = Browser::signed_in(&site, "Alex Auditor", &["auditor"], None).await;
        let page = auditor.get(&review).await.ok();
        assert!(page.contains("Audit trail"), "{page}");
        assert!(!page.contains("Appoint a panel member"), "{page}");
        let trail = auditor.get(&format!("{review}/audit")).await.ok();
        assert!(trail.contains(">CreateReview<"), "{trail}");
        assert!(trail.contains("Ann Admin"), "{trail}");

        // A panel member sees the review but none of the business unit's commands.
        let mut member = Browser::signed_in(&site, "Pat Member", &["panel_member"], None).await;
        let page = member.get(&review).await.ok();
        assert!(page.contains("Child T"));
        assert!(!page.contains("/advance"), "{page}");
        for path in ["notification", "advance", "terms-of-reference", "panel-member", "audit"] {
            let denied = member.get(&format!("{review}/{path}")).await;
            assert_eq!(denied.status, StatusCode::FORBIDDEN, "{path}");
            assert!(denied.html.contains("You do not have access"), "{path}");
        }
        let denied = member
            .post(&advance, &[("to_stage", "STAGE_ENGAGEMENT".into())])
            .await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.html);
        // Nor is a check page shown to someone who could not confirm it.
        let mut decided = vec![("decision".to_string(), "DECISION_LOCAL_CSPR".to_string())];
        decided.extend(date_fields("decided_on", 0));
        let denied = member.post_pairs(&format!("{review}/decision"), &decided).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.html);

        // The dashboard's filters are the registry's: nothing here is overdue.
        let overdue = admin.get("/?overdue=yes").await.ok();
        assert!(!overdue.contains("Child T"), "{overdue}");
        assert!(overdue.contains("with a deadline missed"), "{overdue}");
        let all = admin.get("/?at_risk=&stage=STAGE_INFORMATION_GATHERING").await.ok();
        assert!(all.contains("Child T"), "{all}");
    });
}

#[test]
fn parallel_processes_are_spans_on_the_timeline_and_a_decision_can_be_changed_before_it_is_sent() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let mut admin = Browser::signed_in(&site, "Ann Admin", &["partnership_admin"], None).await;
        let incident = incident_form(&mut admin, "Child P", -30, -15).await;
        let review = admin
            .post_pairs("/reviews/new", &incident)
            .await
            .redirected()
            .to_string();
        // Another, aware a week ago: its notification is due about today, so at risk.
        let recent = incident_form(&mut admin, "Child R", -9, -7).await;
        admin.post_pairs("/reviews/new", &recent).await.redirected();
        // The dashboard's filters are the registry's (ListReviewsRequest's own).
        let overdue = admin.get("/?overdue=yes").await.ok();
        assert!(overdue.contains("Child P"), "{overdue}");
        assert!(!overdue.contains("Child R"), "{overdue}");
        assert!(
            overdue.contains(
                "id=\"overdue\" name=\"overdue\" type=\"checkbox\" value=\"yes\" checked"
            )
        );
        let at_risk = admin.get("/?at_risk=yes").await.ok();
        assert!(at_risk.contains("Child R"), "{at_risk}");
        assert!(!at_risk.contains("Child P"), "{at_risk}");
        let both = admin.get("/?at_risk=yes&overdue=yes").await.ok();
        assert!(
            both.contains("No reviews with a deadline at risk and missed"),
            "{both}"
        );

        // A criminal investigation: recorded once (however often sent), drawn as a span.
        let processes = format!("{review}/parallel-processes");
        let form = admin.get(&processes).await.ok();
        assert!(form.contains("No parallel process is recorded"), "{form}");
        let refused = admin
            .post(&processes, &[("request_id", request_id(&form))])
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(
            refused
                .html
                .contains("href=\"#kind\">Select the kind of process")
        );
        assert!(
            refused
                .html
                .contains("href=\"#started_on\">Enter the date it started")
        );
        let mut process = vec![
            ("request_id".to_string(), request_id(&form)),
            (
                "kind".to_string(),
                "PARALLEL_PROCESS_KIND_CRIMINAL_INVESTIGATION".to_string(),
            ),
            (
                "description".to_string(),
                "Police investigation".to_string(),
            ),
        ];
        process.extend(date_fields("started_on", -5));
        for _ in 0..2 {
            assert_eq!(
                admin.post_pairs(&processes, &process).await.redirected(),
                processes
            );
        }
        let list = admin.get(&processes).await.ok();
        assert_eq!(list.matches("Police investigation").count(), 1, "{list}");
        assert!(list.contains("Ongoing"), "{list}");
        let page = admin.get(&review).await.ok();
        assert!(page.contains("class=\"parallel\""), "{page}");
        assert!(page.contains("Criminal investigation: from "), "{page}");
        assert!(page.contains(" ongoing."), "{page}");

        // Its end: not before it started (beside the date), then recorded.
        let end = list.find("&#x2f;end\"").expect("end link") + "&#x2f;end".len();
        let start = list[..end].rfind("href=\"").expect("href") + "href=\"".len();
        let end_path = list[start..end].replace("&#x2f;", "/");
        assert!(end_path.ends_with("/end"), "{end_path}");
        let form = admin.get(&end_path).await.ok();
        assert!(
            form.contains("Record the end of the criminal investigation"),
            "{form}"
        );
        let refused = admin
            .post_pairs(&end_path, &date_fields("ended_on", -6))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(
            refused
                .html
                .contains("href=\"#ended_on\">Must not be before it started"),
            "{}",
            refused.html
        );
        assert_eq!(
            admin
                .post_pairs(&end_path, &date_fields("ended_on", -1))
                .await
                .redirected(),
            processes
        );
        let list = admin.get(&processes).await.ok();
        assert!(!list.contains("Ongoing"), "{list}");
        assert!(!list.contains("Record its end"), "{list}");

        // The decision: checked, then changed (the form comes back filled in), then a
        // decision against a review without its rationale is refused.
        let mut sent = date_fields("sent_on", -14);
        sent.push(("national_panel_reference".into(), String::new()));
        admin
            .post_pairs(&format!("{review}/notification"), &sent)
            .await
            .redirected();
        let decision = format!("{review}/decision");
        let mut decided = vec![("decision".to_string(), "DECISION_LOCAL_CSPR".to_string())];
        decided.extend(date_fields("decided_on", 0));
        let check = admin.post_pairs(&decision, &decided).await.ok();
        let mut answers = hidden_fields(&check);
        answers.push(("change".into(), "yes".into()));
        let changed = admin
            .post_pairs(&format!("{decision}/confirm"), &answers)
            .await
            .ok();
        assert!(
            changed.contains("Record the rapid review decision"),
            "{changed}"
        );
        assert!(
            changed.contains("value=\"DECISION_LOCAL_CSPR\" checked"),
            "{changed}"
        );
        assert!(!changed.contains("There is a problem"));
        let mut against = vec![("decision".to_string(), "DECISION_NO_LOCAL_CSPR".to_string())];
        against.extend(date_fields("decided_on", 0));
        let refused = admin.post_pairs(&decision, &against).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(
            refused
                .html
                .contains("href=\"#rationale\">Enter the rationale for not holding a local review")
        );
        against.push((
            "rationale".into(),
            "Single-agency learning is enough".into(),
        ));
        let check = admin.post_pairs(&decision, &against).await.ok();
        assert!(
            check.contains("Single-agency learning is enough"),
            "{check}"
        );
        let confirmed = admin
            .post_pairs(&format!("{decision}/confirm"), &hidden_fields(&check))
            .await;
        assert_eq!(confirmed.redirected(), review);
        let page = admin.get(&review).await.ok();
        assert!(page.contains("Not proceeding"), "{page}");
        // An ended review has no commands left. The same decision sent again (a double
        // click) is the one recorded; a different one is refused with the reason.
        assert!(
            !page.contains("Move the review to its next stage"),
            "{page}"
        );
        let again = admin
            .post_pairs(&format!("{decision}/confirm"), &hidden_fields(&check))
            .await;
        assert_eq!(again.redirected(), review, "{}", again.html);
        let mut other = hidden_fields(&check);
        other.retain(|(name, _)| name != "rationale");
        other.push(("rationale".into(), "Another reason".into()));
        let refused = admin
            .post_pairs(&format!("{decision}/confirm"), &other)
            .await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.html);
        assert!(
            refused.html.contains("This cannot be done now"),
            "{}",
            refused.html
        );
    });
}

/// A review taken to PRE_PUBLICATION through the API (its one agency report waived, the
/// overview report submitted and approved): the id.
async fn review_at_pre_publication(site: &Site) -> String {
    let setup = Setup {
        alias: "Child U".into(),
        agencies: vec![agency("police", "Southvale Police")],
        ..Setup::default()
    };
    Walk::approved_from(site, setup).await.id
}

#[test]
fn publication_is_planned_noticed_and_recorded_after_its_answers_are_checked() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let id = review_at_pre_publication(&site).await;
        let review = format!("/reviews/{id}");
        let mut admin = Browser::signed_in(&site, "Ann Admin", &["partnership_admin"], None).await;
        let page = admin.get(&review).await.ok();
        assert!(page.contains("Pre publication"), "{page}");
        assert_contains(
            &page,
            &[
                "Plan the publication date",
                "Record the pre-publication notice",
                "Record publication",
            ],
        );
        assert!(!page.contains("Set the terms of reference"), "{page}");

        // Too soon for the notice to be sent 7 working days before: the registry's reason.
        let plan = format!("{review}/publication-plan");
        let refused = admin.post_pairs(&plan, &date_fields("planned_on", 2)).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.html);
        assert!(
            refused.html.contains("working days before publication"),
            "{}",
            refused.html
        );
        assert_eq!(
            admin
                .post_pairs(&plan, &date_fields("planned_on", 28))
                .await
                .redirected(),
            review
        );
        let form = admin.get(&plan).await.ok();
        assert!(form.contains("Planned now for "), "{form}");
        assert!(admin.get(&review).await.ok().contains("Planned for "));

        // Publication before the notice: refused at the check's confirmation.
        let publication = format!("{review}/publication");
        let mut published = vec![
            ("published".to_string(), "yes".to_string()),
            (
                "location".to_string(),
                "https://southvale.example/cspr/child-u".to_string(),
            ),
        ];
        // Not in the future (the registry's rule): today.
        published.extend(date_fields("published_on", 0));
        let refused = admin
            .post(&publication, &[("published", "yes".into())])
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(
            refused
                .html
                .contains("href=\"#published_on\">Enter the date of publication")
        );
        assert!(
            refused
                .html
                .contains("href=\"#location\">Enter where the report is published")
        );
        let check = admin.post_pairs(&publication, &published).await.ok();
        assert!(
            check.contains("Check the publication before recording it"),
            "{check}"
        );
        assert!(
            check.contains("https:&#x2f;&#x2f;southvale.example&#x2f;cspr&#x2f;child-u"),
            "{check}"
        );
        let confirm = format!("{publication}/confirm");
        let refused = admin.post_pairs(&confirm, &hidden_fields(&check)).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.html);
        assert!(
            refused
                .html
                .contains("The pre-publication notice to the national Panel"),
            "{}",
            refused.html
        );

        // The notice, then publication too soon after it, then on the planned day.
        let notice = format!("{review}/pre-publication-notice");
        let refused = admin.post(&notice, &[]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(
            refused
                .html
                .contains("href=\"#sent_on\">Enter the date the notice was sent")
        );
        assert_eq!(
            admin
                .post_pairs(&notice, &date_fields("sent_on", 0))
                .await
                .redirected(),
            review
        );
        // Published today, the day of the notice: too soon after it.
        let check = admin.post_pairs(&publication, &published).await.ok();
        let refused = admin.post_pairs(&confirm, &hidden_fields(&check)).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.html);
        assert!(
            refused
                .html
                .contains("working days after the pre-publication notice"),
            "{}",
            refused.html
        );
        // The decision not to publish, with its justification: checked, then recorded.
        let not_published = [
            ("published", "no".to_string()),
            (
                "not_published_justification",
                "Publishing would identify the child's siblings".to_string(),
            ),
        ];
        let check = admin.post(&publication, &not_published).await.ok();
        assert!(
            hidden_fields(&check).contains(&(
                "not_published_justification".into(),
                "Publishing would identify the child's siblings".into()
            )),
            "{check}"
        );
        let done = admin.post_pairs(&confirm, &hidden_fields(&check)).await;
        assert_eq!(done.redirected(), review, "{}", done.html);
        let again = admin.post_pairs(&confirm, &hidden_fields(&check)).await;
        assert_eq!(again.redirected(), review, "{}", again.html);
        // Published (and then, as the action plan's service reacts, monitoring actions).
        let page = admin.get(&review).await.ok();
        assert!(
            page.contains("Not published: Publishing would identify the child&#x27;s siblings"),
            "{page}"
        );
        assert!(
            page.contains(">Published<") || page.contains(">Action monitoring<"),
            "{page}"
        );
        assert!(!page.contains("Record publication"), "{page}");
    });
}

//! A whole review walked through the web front end in a real browser (headless Chromium
//! through chromedriver) in front of a whole `cspr serve all`, as the people who run it
//! would: the business unit, the panel chair, the reviewer, two agency leads, the family
//! liaison. Every page visited is saved as a screenshot under
//! `target/web-screenshots/walk/` and checked with axe-core (no serious or critical
//! violations), and each page is asked to show what was done on the one before.

mod common;

use std::path::{Path, PathBuf};

use chrono::Datelike;
use common::Isolated;
use common::browser::Chromium;
use common::web::Site;
use cspr_platform::testing;
use serde_json::json;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// `days` from today (negative: ago).
fn day(days: i64) -> chrono::NaiveDate {
    chrono::Utc::now().date_naive() + chrono::Duration::days(days)
}

/// A person at the browser, on the site.
struct Walker {
    browser: Chromium,
    base: String,
}

impl Walker {
    async fn open(&self, path: &str) {
        self.browser.open(&format!("{}{path}", self.base)).await;
    }

    /// The path the browser is at (no scheme, host or query).
    async fn path(&self) -> String {
        let url = self.browser.url().await;
        let path = url.strip_prefix(&self.base).unwrap_or(&url);
        path.split('?').next().unwrap_or_default().to_string()
    }

    /// Opens `path` and looks at it: the page's text.
    async fn visit(&mut self, path: &str, name: &str) -> String {
        self.open(path).await;
        self.browser.look(name).await
    }

    /// Signs in on the development sign-in page (signing out whoever was signed in).
    async fn sign_in(&mut self, name: &str, roles: &[&str], org: Option<&str>) {
        self.open("/sign-in").await;
        if !self.browser.url().await.ends_with("/sign-in") {
            self.submit("form[action='/sign-out'] button").await;
            self.open("/sign-in").await;
        }
        let page = self
            .browser
            .look(&format!("sign-in-{}", roles.join("-")))
            .await;
        assert!(page.contains("This is a development sign-in"), "{page}");
        self.browser.fill("#name", name).await;
        self.browser.fill("#partnership", "southvale").await;
        for role in roles {
            self.browser.click(&format!("#role-{role}")).await;
        }
        if let Some(org) = org {
            self.browser.fill("#org", org).await;
        }
        self.submit("form[action='/sign-in'] button").await;
        assert!(
            !self.browser.url().await.ends_with("/sign-in"),
            "signed in as {name}: {}",
            self.browser.text().await
        );
    }

    async fn fill(&self, id: &str, text: &str) {
        self.browser.fill(&format!("[id='{id}']"), text).await;
    }

    /// A GOV.UK date input: its day, month and year.
    async fn date(&self, name: &str, date: chrono::NaiveDate) {
        self.fill(name, &date.day().to_string()).await;
        self.fill(&format!("{name}-month"), &date.month().to_string())
            .await;
        self.fill(&format!("{name}-year"), &date.year().to_string())
            .await;
    }

    /// Chooses the radio (or ticks the checkbox) `name` = `value`.
    async fn choose(&self, name: &str, value: &str) {
        self.browser
            .click(&format!("input[name='{name}'][value='{value}']"))
            .await;
    }

    /// Chooses `value` in the select `id`.
    async fn select(&self, id: &str, value: &str) {
        self.browser
            .click(&format!("select[id='{id}'] option[value='{value}']"))
            .await;
    }

    /// Presses the button `button` and waits for the page it leads to.
    async fn press(&self, button: &str) {
        self.browser.press(button).await;
    }

    /// Clicks what `css` matches and waits for the page it leads to.
    async fn submit(&self, css: &str) {
        self.browser.submit(css).await;
    }

    /// The address of the first link whose address ends with `ending` in the table row
    /// (or list item) that shows `text`.
    async fn link_beside(&self, text: &str, ending: &str) -> String {
        let found = self
            .browser
            .script(
                "const [text, ending] = arguments;\
                 const link = Array.from(document.querySelectorAll('main a')).find(a => {\
                   const row = a.closest('tr, li, .govuk-summary-list__row, .govuk-summary-card');\
                   return a.pathname.endsWith(ending) && row && row.innerText.includes(text);\
                 });\
                 return link ? link.pathname : null;",
                json!([text, ending]),
            )
            .await;
        found
            .as_str()
            .unwrap_or_else(|| panic!("no link …{ending} beside {text}"))
            .to_string()
    }
}

/// An agency's chronology spreadsheet, written to a temporary folder.
fn spreadsheet(name: &str, rows: &[String]) -> PathBuf {
    let folder = std::env::temp_dir().join(testing::unique("cspr-walk-"));
    std::fs::create_dir_all(&folder).expect("temp folder");
    let path = folder.join(name);
    let mut csv =
        String::from("date,time,service,practitioner_name,practitioner_role,description,outcome\n");
    for row in rows {
        csv.push_str(row);
        csv.push('\n');
    }
    std::fs::write(&path, csv).expect("spreadsheet written");
    path
}

/// A chronology row `days` from today.
fn row(days: i64, rest: &str) -> String {
    format!("{},{rest}", day(days).format("%Y-%m-%d"))
}

/// The agency lead fills in the report's narrative and chooses its spreadsheet.
async fn fill_report(walker: &Walker, author: &str, summary: &str, spreadsheet: &Path) {
    walker.fill("author_name", author).await;
    walker.fill("author_role", "Safeguarding lead").await;
    walker.fill("summary", summary).await;
    walker
        .fill(
            "analysis_of_involvement",
            "Staff saw the family and recorded what they saw.",
        )
        .await;
    walker
        .fill("learning", "Share concerns with the other agencies sooner.")
        .await;
    walker.browser.choose_file("#chronology", spreadsheet).await;
}

#[test]
fn a_whole_review_is_walked_through_the_pages_in_a_browser() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let mut walker = Walker {
            browser: Chromium::start("walk").await,
            base: site.base.clone(),
        };
        let w = &mut walker;

        // ── The business unit records the serious incident. ──
        w.sign_in("Ann Admin", &["partnership_admin"], None).await;
        let dashboard = w.browser.look("dashboard-empty").await;
        assert!(dashboard.contains("Reviews"), "{dashboard}");
        w.browser.mark().await;
        w.browser.click_link("Record a serious incident").await;
        w.browser.arrived().await;
        w.browser.look("record-incident").await;
        w.fill("child_alias", "Child K").await;
        w.fill("local_authority", "Southvale Council").await;
        w.date("incident_date", day(-20)).await;
        w.date("became_aware_on", day(-3)).await;
        w.press("Record the incident").await;
        let review = w.path().await;
        let id = review
            .strip_prefix("/reviews/")
            .unwrap_or_else(|| panic!("on the review's page: {review}"))
            .to_string();
        let page = w.browser.look("review-recorded").await;
        assert!(page.contains("Child K"), "{page}");
        assert!(
            w.browser.source().await.contains("Statutory timeline"),
            "the timeline picture"
        );

        // The notification to the national Panel, then the decision (checked first).
        w.visit(&format!("{review}/notification"), "notification").await;
        w.date("sent_on", day(-1)).await;
        w.fill("national_panel_reference", "NP-2026-14").await;
        w.press("Record the notification").await;
        assert_eq!(w.path().await, review);
        let page = w.browser.look("review-notified").await;
        assert!(page.contains("NP-2026-14"), "{page}");

        w.visit(&format!("{review}/decision"), "decision").await;
        w.choose("decision", "DECISION_LOCAL_CSPR").await;
        w.date("decided_on", day(0)).await;
        w.press("Continue").await;
        let check = w.browser.look("decision-check").await;
        assert!(
            check.contains("Check the rapid review decision before recording it"),
            "{check}"
        );
        assert!(
            check.contains("Hold a local child safeguarding practice review"),
            "{check}"
        );
        w.submit("main form button.govuk-button:not([name='change'])")
            .await;
        assert_eq!(w.path().await, review);
        let page = w.browser.look("review-decided").await;
        assert!(page.contains("A local review will be held"), "{page}");

        // The panel chair, with the independence declaration; the reviewer, whose sign-in
        // name is the subject of their token.
        w.visit(&format!("{review}/panel-member"), "panel-member").await;
        w.fill("name", "Cara Chair").await;
        w.fill("email", "cara.chair@southvale.example").await;
        w.fill("organisation", "Southvale Health").await;
        w.choose("role", "PANEL_ROLE_CHAIR").await;
        w.browser.click("#declares_no_involvement").await;
        w.fill("independence_statement", "I had no part in the case.")
            .await;
        w.press("Appoint to the panel").await;
        assert_eq!(w.path().await, review);
        let page = w.browser.look("review-chair-appointed").await;
        assert!(page.contains("Cara Chair, Southvale Health (chair)"), "{page}");

        w.visit(&format!("{review}/reviewer"), "reviewer").await;
        w.fill("name", "Rita Reviewer").await;
        w.fill("email", "rita@reviews.example").await;
        w.fill("subject", "Rita Reviewer").await;
        w.date("appointed_on", day(0)).await;
        w.press("Appoint the reviewer").await;
        assert_eq!(w.path().await, review);
        let page = w.browser.look("review-appointed").await;
        assert!(page.contains("Cara Chair, Southvale Health (chair)"), "{page}");
        assert!(page.contains("Rita Reviewer"), "{page}");

        // The terms of reference, with the two agencies asked for reports.
        w.visit(&format!("{review}/terms-of-reference"), "terms-of-reference")
            .await;
        w.fill(
            "key_lines_of_enquiry",
            "Was the risk recognised?\nDid agencies share information?",
        )
        .await;
        w.fill("methodology", "Systems approach with a learning event")
            .await;
        w.date("scope_start", day(-400)).await;
        w.date("scope_end", day(-20)).await;
        w.date("report_due_date", day(30)).await;
        for (row, (agency, name, email)) in [
            ("police", "Southvale Police", "reports@police.example"),
            ("health", "Southvale Health Trust", "reports@health.example"),
        ]
        .into_iter()
        .enumerate()
        {
            w.fill(&format!("agency_id_{row}"), agency).await;
            w.fill(&format!("agency_name_{row}"), name).await;
            w.fill(&format!("agency_email_{row}"), email).await;
        }
        w.press("Set the terms of reference").await;
        assert_eq!(w.path().await, review);
        let page = w.browser.look("review-terms-set").await;
        assert!(
            page.contains("Southvale Police, Southvale Health Trust"),
            "{page}"
        );

        // On to information gathering and engagement.
        for (stage, shown, name) in [
            (
                "STAGE_INFORMATION_GATHERING",
                "Information gathering",
                "information-gathering",
            ),
            ("STAGE_ENGAGEMENT", "Engagement", "engagement"),
        ] {
            w.visit(&format!("{review}/advance"), &format!("advance-{name}"))
                .await;
            w.choose("to_stage", stage).await;
            w.press("Move the review on").await;
            assert_eq!(w.path().await, review);
            let page = w.browser.look(&format!("review-{name}")).await;
            assert!(page.contains(shown), "{page}");
        }

        // The report requests arrive over the bus: the tracker shows both outstanding.
        {
            let (browser, url) = (&w.browser, format!("{}{review}/reports", w.base));
            let url = url.as_str();
            testing::eventually("both report requests", testing::DEADLINE, || async move {
                browser.open(url).await;
                let text = browser.text().await;
                (text.contains("Southvale Police") && text.contains("Southvale Health Trust"))
                    .then_some(())
            })
            .await;
        }
        let tracker = w.browser.look("report-requests").await;
        assert_eq!(tracker.matches("Outstanding").count(), 2, "{tracker}");

        // ── The police's lead: a spreadsheet with a bad row, then corrected. ──
        w.sign_in("Sam Lead", &["agency"], Some("police")).await;
        let requests = w.visit("/agency", "agency-requests-police").await;
        assert!(requests.contains("Requested"), "{requests}");
        let upload = format!("/agency/reviews/{id}");
        w.visit(&upload, "agency-upload-police").await;
        let police_first = [
            row(-300, "09:30,Home visit,Pat Officer,Police constable,\"Visited, concerns noted\",Referral made"),
            "2000-01-01,,Phone call,,,Called the school,".to_string(),
        ];
        let bad = spreadsheet("police-bad.csv", &police_first);
        fill_report(w, "Sam Lead", "Two contacts with the family.", &bad).await;
        w.press("Send the report").await;
        let refused = w.browser.look("agency-upload-bad-row").await;
        assert!(refused.contains("There is a problem"), "{refused}");
        assert!(
            refused.contains("Row 3, column date: 2000-01-01 is outside the scope period"),
            "{refused}"
        );
        let good = spreadsheet(
            "police.csv",
            &[police_first[0].clone(), row(-200, ",Phone call,,,Called the school,")],
        );
        // What was typed is kept; the file is chosen again.
        fill_report(w, "Sam Lead", "Two contacts with the family.", &good).await;
        w.press("Send the report").await;
        assert_eq!(w.path().await, upload);
        let sent = w.browser.look("agency-upload-police-sent").await;
        assert!(sent.contains("Submitted"), "{sent}");

        // ── The health trust's lead. ──
        w.sign_in("Hana Lead", &["agency"], Some("health")).await;
        w.visit(&upload, "agency-upload-health").await;
        let health = spreadsheet(
            "health.csv",
            &[
                row(-250, "10:00,Health visit,Alex Smith,Health visitor,Weighed the baby,Review in a month"),
                row(-220, "14:00,Clinic,Bea Witness,Health visitor,Saw bruising on the arm,Told the police"),
            ],
        );
        fill_report(w, "Hana Lead", "Two health contacts.", &health).await;
        w.press("Send the report").await;
        assert_eq!(w.path().await, upload);
        let sent = w.browser.look("agency-upload-health-sent").await;
        assert!(sent.contains("Submitted"), "{sent}");

        // ── The panel chair returns the police's report and accepts the health trust's. ──
        w.sign_in("Cara Chair", &["panel_chair"], None).await;
        let panel = format!("/panel/reviews/{id}");
        let reports = w.visit(&panel, "panel-reports").await;
        assert!(reports.contains("Southvale Police"), "{reports}");
        let police = w
            .visit(&format!("{panel}/agencies/police"), "panel-police-report")
            .await;
        assert!(police.contains("Two contacts with the family."), "{police}");
        assert!(police.contains("Pat Officer"), "{police}");
        w.fill("missing", "The March home visit is missing from the chronology.")
            .await;
        w.press("Return the report").await;
        let returned = w.browser.look("panel-police-returned").await;
        assert!(
            returned.contains("The March home visit is missing"),
            "{returned}"
        );
        w.visit(&format!("{panel}/agencies/health"), "panel-health-report")
            .await;
        w.press("Accept the report").await;
        let accepted = w.browser.look("panel-health-accepted").await;
        assert!(accepted.contains("Accepted"), "{accepted}");

        // ── The police's lead sees why and sends a new version; the chair accepts it. ──
        w.sign_in("Sam Lead", &["agency"], Some("police")).await;
        let form = w.visit(&upload, "agency-upload-police-returned").await;
        assert!(
            form.contains("The panel returned version 1: The March home visit is missing"),
            "{form}"
        );
        let second = spreadsheet(
            "police-2.csv",
            &[
                police_first[0].clone(),
                row(-200, ",Phone call,,,Called the school,"),
                row(-190, "11:00,Home visit,Pat Officer,Police constable,The March home visit,Strategy meeting asked for"),
            ],
        );
        fill_report(w, "Sam Lead", "Three contacts with the family.", &second).await;
        w.press("Send the report").await;
        assert_eq!(w.path().await, upload);
        let sent = w.browser.look("agency-upload-police-resent").await;
        assert!(sent.contains("Submitted"), "{sent}");

        w.sign_in("Cara Chair", &["panel_chair"], None).await;
        let police = w
            .visit(&format!("{panel}/agencies/police"), "panel-police-report-2")
            .await;
        assert!(police.contains("Three contacts with the family."), "{police}");
        w.press("Accept the report").await;
        let accepted = w.browser.look("panel-police-accepted").await;
        assert!(accepted.contains("Accepted"), "{accepted}");

        // ── The reviewer: the chronology and its picture, practitioners, a learning event. ──
        w.sign_in("Rita Reviewer", &["reviewer"], None).await;
        let mine = w.visit("/reviewer", "reviewer-reviews").await;
        assert!(mine.contains("Child K"), "{mine}");
        let workspace = w
            .visit(&format!("{review}/workspace"), "reviewer-workspace")
            .await;
        assert!(workspace.contains("Child K"), "{workspace}");
        let chronology = w
            .visit(&format!("{review}/chronology"), "reviewer-chronology")
            .await;
        for expected in [
            "Weighed the baby",
            "Saw bruising on the arm",
            "The March home visit",
            "Southvale Police",
            "Southvale Health Trust",
        ] {
            assert!(chronology.contains(expected), "{expected}: {chronology}");
        }
        let source = w.browser.source().await;
        assert!(source.contains("<svg"), "the timeline picture: {source}");

        // The names in the chronologies arrive as suggestions over the bus.
        let practitioners = format!("{review}/practitioners");
        {
            let (browser, url) = (&w.browser, format!("{}{practitioners}", w.base));
            let url = url.as_str();
            testing::eventually("the suggestions", testing::DEADLINE, || async move {
                browser.open(url).await;
                let text = browser.text().await;
                (text.contains("Alex Smith") && text.contains("Bea Witness")).then_some(())
            })
            .await;
        }
        let list = w.browser.look("practitioners-suggested").await;
        assert!(list.contains("Suggested from agency chronologies"), "{list}");
        for (name, email) in [
            ("Alex Smith", "alex@health.southvale.example.org"),
            ("Bea Witness", "bea@health.southvale.example.org"),
        ] {
            w.open(&practitioners).await;
            let confirm = w.link_beside(name, "/confirm").await;
            w.visit(&confirm, &format!("confirm-{}", name.replace(' ', "-")))
                .await;
            w.select("agency_id", "health").await;
            w.fill("email", email).await;
            w.date("involvement_start", day(-260)).await;
            w.date("involvement_end", day(-200)).await;
            w.press("Confirm involvement").await;
            assert_eq!(w.path().await, practitioners);
        }
        let list = w.browser.look("practitioners-confirmed").await;
        assert!(list.contains("alex@health.southvale.example.org"), "{list}");

        // Bea is a witness in the police investigation: contact waits.
        let defer = w.link_beside("Bea Witness", "/defer").await;
        let form = w.visit(&defer, "defer-Bea-Witness").await;
        assert!(form.contains("Defer contact with Bea Witness"), "{form}");
        w.choose("reason", "DEFERRAL_REASON_POLICE_INVESTIGATION_WITNESS")
            .await;
        w.fill("detail", "Statement to be taken first").await;
        w.fill("authorised_by", "Senior investigating officer").await;
        w.date("review_date", day(30)).await;
        w.press("Defer contact").await;
        assert_eq!(w.path().await, practitioners);
        let list = w.browser.look("practitioners-deferred").await;
        assert!(
            list.contains("Police investigation witness: Statement to be taken first"),
            "{list}"
        );

        // The learning event: Alex invited, Bea (deferred) not offered.
        let form = w
            .visit(&format!("{review}/learning-events/new"), "learning-event")
            .await;
        assert!(form.contains("Alex Smith, Health visitor"), "{form}");
        assert!(!form.contains("Bea Witness"), "deferred: {form}");
        w.date("scheduled_at", day(21)).await;
        w.fill("time", "10:00").await;
        w.fill("location", "Southvale Civic Centre, Room 2").await;
        w.fill("agenda", "What helped and what hindered information sharing.")
            .await;
        w.press("Schedule the event").await;
        assert!(
            w.path().await.starts_with(&format!("{review}/learning-events/")),
            "on the event's page"
        );
        let attendance = w.browser.look("learning-event-scheduled").await;
        assert!(attendance.contains("Who came?"), "{attendance}");
        assert!(attendance.contains("Alex Smith"), "{attendance}");

        // ── The family liaison: a family member, contact restricted. ──
        w.sign_in("Fay Liaison", &["family_liaison"], None).await;
        let family = format!("{review}/family");
        {
            let (browser, url) = (&w.browser, format!("{}{family}", w.base));
            let url = url.as_str();
            testing::eventually("the review in the family service", testing::DEADLINE, || async move {
                browser.open(url).await;
                browser
                    .text()
                    .await
                    .contains("No family member recorded yet")
                    .then_some(())
            })
            .await;
        }
        w.browser.look("family-empty").await;
        w.visit(&format!("{family}/new"), "family-add").await;
        w.fill("name", "Morgan Reed").await;
        w.choose("relationship", "RELATIONSHIP_PARENT").await;
        w.fill("contact_decision_note", "Contact after the strategy meeting.")
            .await;
        w.choose("route", "known_professional").await;
        w.fill("known_professional.name", "Jo Keyworker").await;
        w.fill("known_professional.agency", "Southvale Children's Services")
            .await;
        w.fill("known_professional.email", "jo@csc.southvale.example.org")
            .await;
        w.press("Add the family member").await;
        let member = w.path().await;
        assert!(member.starts_with(&format!("{family}/")), "{member}");
        let page = w.browser.look("family-member").await;
        for expected in ["Morgan Reed", "Parent", "Through Jo Keyworker"] {
            assert!(page.contains(expected), "{expected}: {page}");
        }
        w.visit(&format!("{member}/restrict"), "family-restrict").await;
        w.choose("reason", "RESTRICTION_REASON_CRIMINAL_INVESTIGATION")
            .await;
        w.fill("detail", "Police asked for no contact yet").await;
        w.fill("authorised_by", "Senior investigating officer").await;
        w.date("review_date", day(30)).await;
        w.press("Restrict contact").await;
        assert_eq!(w.path().await, member);
        let page = w.browser.look("family-member-restricted").await;
        assert!(
            page.contains("Criminal investigation: Police asked for no contact yet"),
            "{page}"
        );
        assert!(page.contains("Lift the restriction"), "{page}");

        // ── The business unit moves the review on to overview drafting. ──
        w.sign_in("Ann Admin", &["partnership_admin"], None).await;
        w.visit(&format!("{review}/advance"), "advance-overview-drafting")
            .await;
        w.choose("to_stage", "STAGE_OVERVIEW_DRAFTING").await;
        w.press("Move the review on").await;
        assert_eq!(w.path().await, review);
        let page = w.browser.look("review-overview-drafting").await;
        assert!(page.contains("Overview drafting"), "{page}");

        // ── The reviewer drafts the overview report, checks it, submits it. ──
        w.sign_in("Rita Reviewer", &["reviewer"], None).await;
        w.visit(&format!("{review}/overview"), "overview-draft").await;
        w.fill("findings", "Concerns about bruising were not shared.")
            .await;
        // Findings on each key line of enquiry of the terms, and the three questions.
        w.fill("enquiry_1", "The risk was seen by the school, not by health.")
            .await;
        w.fill("enquiry_2", "Police and health did not share the bruising.")
            .await;
        for (field, text) in [
            ("standards_met", "Not in the health visiting service."),
            ("policies_followed", "The bruising protocol was not followed."),
            ("working_together", "Concerns stayed within each agency."),
            ("good_practice", "The school's designated lead acted the same day."),
            ("learning", "Bruising in a baby who is not mobile is a red flag."),
        ] {
            w.fill(field, text).await;
        }
        w.fill("ref_1", "R1").await;
        w.fill("text_1", "Agree an information-sharing protocol.").await;
        w.press("Continue").await;
        let check = w.browser.look("overview-check").await;
        assert!(
            check.contains("Check your overview report before submitting it"),
            "{check}"
        );
        for expected in [
            "Agree an information-sharing protocol.",
            "Did agencies share information?",
            "Police and health did not share the bruising.",
            "The school's designated lead acted the same day.",
        ] {
            assert!(check.contains(expected), "{expected}: {check}");
        }
        w.press("Submit the overview report").await;
        assert_eq!(w.path().await, format!("{review}/workspace"));
        let workspace = w.browser.look("overview-submitted").await;
        assert!(workspace.contains("Panel approval"), "{workspace}");

        // ── The chair reads it, checks, approves. ──
        w.sign_in("Cara Chair", &["panel_chair"], None).await;
        let overview = w
            .visit(&format!("{panel}/overview"), "panel-overview")
            .await;
        for expected in [
            "Concerns about bruising were not shared.",
            "Findings: Was the risk recognised?",
            "Bruising in a baby who is not mobile is a red flag.",
        ] {
            assert!(overview.contains(expected), "{expected}: {overview}");
        }
        w.visit(&format!("{panel}/overview/check?version=1"), "panel-overview-check")
            .await;
        w.press("Approve the overview report").await;
        let approved = w.browser.look("panel-overview-approved").await;
        for expected in ["Approved", "Pre publication"] {
            assert!(approved.contains(expected), "{expected}: {approved}");
        }

        // ── Publication. With the real clock a "published" outcome is refused today: the
        // pre-publication notice must go 7 working days before publication and publication
        // cannot precede it (nor be in the future). So: plan publication four weeks out,
        // record the notice today, and record the outcome the registry allows today, not
        // published, with its justification. ──
        w.sign_in("Ann Admin", &["partnership_admin"], None).await;
        let page = w.visit(&review, "review-pre-publication").await;
        assert!(page.contains("Pre publication"), "{page}");
        w.visit(&format!("{review}/publication-plan"), "publication-plan")
            .await;
        w.date("planned_on", day(28)).await;
        w.press("Plan the publication").await;
        assert_eq!(w.path().await, review);
        let page = w.browser.look("review-publication-planned").await;
        assert!(page.contains("Planned for "), "{page}");
        w.visit(
            &format!("{review}/pre-publication-notice"),
            "pre-publication-notice",
        )
        .await;
        w.date("sent_on", day(0)).await;
        w.press("Record the notice").await;
        assert_eq!(w.path().await, review);
        w.browser.look("review-notice-sent").await;
        w.visit(&format!("{review}/publication"), "publication").await;
        w.choose("published", "no").await;
        w.fill(
            "not_published_justification",
            "Publishing would identify the child's siblings",
        )
        .await;
        w.press("Continue").await;
        let check = w.browser.look("publication-check").await;
        assert!(
            check.contains("Check the publication before recording it"),
            "{check}"
        );
        w.submit("main form button.govuk-button:not([name='change'])")
            .await;
        assert_eq!(w.path().await, review);
        let page = w.browser.look("review-not-published").await;
        assert!(
            page.contains("Not published: Publishing would identify the child's siblings"),
            "{page}"
        );

        // ── An action for the recommendation, owned by the health trust. ──
        let new_action = format!("{review}/actions/new");
        let form = w.visit(&new_action, "action-new").await;
        assert!(
            form.contains("R1: Agree an information-sharing protocol."),
            "{form}"
        );
        // The actions service learns of the approval over the bus: the same form (its
        // request id kept) is sent until it is taken.
        let action = {
            let browser = &w.browser;
            let form_url = format!("{}{new_action}", w.base);
            let form_url = form_url.as_str();
            let due = day(60);
            testing::eventually("the action taken", testing::DEADLINE, || async move {
                let fill = |id: &'static str, text: String| async move {
                    browser.fill(&format!("[id='{id}']"), &text).await;
                };
                // A refusal is a page of its own: the form afresh each time.
                browser.open(form_url).await;
                browser
                    .click("input[name='recommendation_ref'][value='R1']")
                    .await;
                fill(
                    "description",
                    "Agree and launch an information-sharing protocol.".into(),
                )
                .await;
                browser
                    .click("select[id='owner_agency'] option[value='health']")
                    .await;
                fill("owner_email", "lead@health.example".into()).await;
                fill("due_date", due.day().to_string()).await;
                fill("due_date-month", due.month().to_string()).await;
                fill("due_date-year", due.year().to_string()).await;
                fill(
                    "measure_of_success",
                    "Audit shows concerns shared within 24 hours.".into(),
                )
                .await;
                browser.press("Add the action").await;
                let url = browser.url().await;
                let path = url.split("/reviews/").nth(1).map(|rest| format!("/reviews/{rest}"));
                match path {
                    Some(path) if !path.ends_with("/actions/new") => Some(path),
                    _ => None,
                }
            })
            .await
        };
        assert!(action.starts_with(&format!("{review}/actions/")), "{action}");
        let page = w.browser.look("action-added").await;
        assert!(page.contains("Agree and launch an information-sharing protocol."), "{page}");
        assert!(page.contains("Not started"), "{page}");

        // ── The owner agency's lead records progress with evidence of impact. ──
        w.sign_in("Hana Lead", &["agency"], Some("health")).await;
        let own = w.visit("/actions", "actions-health").await;
        assert!(own.contains("Agree and launch an information-sharing protocol."), "{own}");
        w.visit(&action, "action-health").await;
        w.choose("status", "ACTION_STATUS_COMPLETED").await;
        w.fill("note", "Protocol launched in all teams").await;
        w.fill(
            "evidence_of_impact",
            "Audit of 40 cases: concerns shared within 24 hours in 38.",
        )
        .await;
        w.press("Record progress").await;
        assert_eq!(w.path().await, action);
        let page = w.browser.look("action-progressed").await;
        for expected in [
            "Completed",
            "Protocol launched in all teams",
            "Audit of 40 cases: concerns shared within 24 hours in 38.",
        ] {
            assert!(page.contains(expected), "{expected}: {page}");
        }

        assert!(
            w.browser.violations.is_empty(),
            "accessibility (axe-core, serious or critical):\n{}",
            w.browser.violations.join("\n")
        );
        assert!(w.browser.screenshots() >= 84, "a screenshot of every page");
    });
}

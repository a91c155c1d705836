//! The business unit's pages of the web front end, over HTTP in front of a whole
//! `cspr serve all`: recording a serious incident (the GOV.UK error summary, the date
//! input's messages, one review however often the form is sent), and who is refused.

mod common;

use common::Isolated;
use common::web::{Browser, Site};
use cspr_platform::testing;
use reqwest::StatusCode;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The form's hidden idempotency key.
fn request_id(html: &str) -> String {
    let marker = "name=\"request_id\" value=\"";
    let start = html.find(marker).expect("request_id field") + marker.len();
    html[start..start + 36].to_string()
}

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
        for expected in [
            "There is a problem",
            "href=\"#child_alias\">Enter an alias for the child",
            "href=\"#incident_date\">The date of the incident must include a month and a year",
            "href=\"#became_aware_on\">Enter the date the partnership became aware",
            "value=\"Southvale Council\"",
            "govuk-form-group--error",
        ] {
            assert!(
                refused.html.contains(expected),
                "{expected}: {}",
                refused.html
            );
        }
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

//! The web front end in a real browser (headless Chromium through chromedriver) in front of
//! a whole `cspr serve all`: people walk a review through the pages as they would, every
//! page is saved as a screenshot under `target/web-screenshots/browser/` and checked with
//! axe-core (no serious or critical violations).

mod common;

use common::Isolated;
use common::browser::Chromium;
use common::web::Site;
use cspr_platform::testing;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Signs in on the development sign-in page as `name` with `roles`.
async fn sign_in(browser: &mut Chromium, site: &Site, name: &str, roles: &[&str]) {
    browser.open(&format!("{}/sign-in", site.base)).await;
    // Signed in already (the sign-in page sends a signed-in person on): sign out first.
    if !browser.url().await.ends_with("/sign-in") {
        browser.submit("form[action='/sign-out'] button").await;
        browser.open(&format!("{}/sign-in", site.base)).await;
    }
    browser.look(&format!("sign-in-{}", roles.join("-"))).await;
    browser.fill("#name", name).await;
    browser.fill("#partnership", "southvale").await;
    for role in roles {
        browser.click(&format!("#role-{role}")).await;
    }
    browser.submit("form[action='/sign-in'] button").await;
}

#[test]
fn a_review_is_walked_through_the_pages_in_a_browser() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let mut browser = Chromium::start("browser").await;

        // The business unit records the serious incident, first with a mistake.
        sign_in(&mut browser, &site, "Ann Admin", &["partnership_admin"]).await;
        let dashboard = browser.look("dashboard-empty").await;
        assert!(dashboard.contains("Reviews"), "{dashboard}");
        browser.mark().await;
        browser.click_link("Record a serious incident").await;
        browser.arrived().await;
        browser.look("record-incident").await;
        browser.fill("#child_alias", "Child W").await;
        browser.fill("#local_authority", "Southvale Council").await;
        browser.fill("#incident_date", "9").await;
        browser.submit("form[action='/reviews/new'] button").await;
        let refused = browser.look("record-incident-errors").await;
        assert!(refused.contains("There is a problem"), "{refused}");
        assert!(
            refused.contains("The date of the incident must include a month and a year"),
            "{refused}"
        );
        browser.fill("#incident_date-month", "3").await;
        browser.fill("#incident_date-year", "2026").await;
        browser.fill("#became_aware_on", "10").await;
        browser.fill("#became_aware_on-month", "3").await;
        browser.fill("#became_aware_on-year", "2026").await;
        browser.submit("form[action='/reviews/new'] button").await;
        let review = browser.look("review").await;
        assert!(review.contains("Child W"), "{review}");
        assert!(
            browser.url().await.contains("/reviews/"),
            "on the review's page"
        );

        browser.open(&site.base).await;
        let dashboard = browser.look("dashboard").await;
        assert!(dashboard.contains("Child W"), "{dashboard}");

        // Operations look at the services' health and the email deliveries.
        sign_in(&mut browser, &site, "Olu Ops", &["operations"]).await;
        browser.open(&format!("{}/operations", site.base)).await;
        let operations = browser.look("operations").await;
        assert!(operations.contains("Email deliveries"), "{operations}");
        assert_eq!(operations.matches("Serving").count(), 6, "{operations}");

        assert!(
            browser.violations.is_empty(),
            "accessibility (axe-core, serious or critical):\n{}",
            browser.violations.join("\n")
        );
        assert!(browser.screenshots() >= 5, "a screenshot of every page");
    });
}

//! What people and agency systems type is shown as text, never run: a review's child alias,
//! an agency report's narrative and a chronology entry carrying `<script>` and an
//! `onerror` image are shown escaped on every page that shows them, to every role that
//! sees them. (A family contribution is checked the same way in `web_reviewer.rs`, where
//! the family pages are walked.)

mod common;

use common::Isolated;
use common::walk::{REVIEWER, Walk, day};
use common::web::{Browser, Site, runtime};
use cspr_platform::testing;

const ALIAS: &str = "Child <script>alert(\"alias\")</script>";
const SUMMARY: &str = "<script>alert(\"summary\")</script> Police summary";
const ENTRY: &str = "<img src=x onerror=alert(\"entry\")> <script>alert(\"entry\")</script>";

/// `page` (at `path`) shows what was injected as text, and no tag of it.
fn shown_as_text(path: &str, page: &str, expected: &[&str]) {
    for text in expected {
        assert!(page.contains(text), "{path} shows {text}: {page}");
    }
    // Escaped, an opening tag starts `&lt;`: a `<` before either is markup.
    for tag in ["<script>alert(", "<img src=x"] {
        assert!(!page.contains(tag), "{path} has {tag} as markup: {page}");
    }
}

#[test]
fn what_is_typed_is_shown_as_text_on_every_page() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let mut walk = Walk::engaged_with(&site, ALIAS, &[("police", "Southvale Police")]).await;
        walk.report_requests(1).await;
        walk.submit_report("police", SUMMARY, &[(day(-30), ENTRY)])
            .await;
        let id = walk.id.clone();

        let escaped_alias = "Child &lt;script&gt;alert(&quot;alias&quot;)&lt;&#x2f;script&gt;";
        let escaped_summary =
            "&lt;script&gt;alert(&quot;summary&quot;)&lt;&#x2f;script&gt; Police summary";
        let escaped_entry = "&lt;img src=x onerror=alert(&quot;entry&quot;)&gt;";

        let mut admin = Browser::signed_in(&site, "Ann Admin", &["partnership_admin"], None).await;
        for path in ["/".to_string(), format!("/reviews/{id}")] {
            let page = admin.get(&path).await.ok();
            shown_as_text(&path, &page, &[escaped_alias]);
        }

        let mut reviewer = Browser::signed_in(&site, REVIEWER, &["reviewer"], None).await;
        let pages = [
            ("/reviewer".to_string(), vec![escaped_alias]),
            (format!("/reviews/{id}/workspace"), vec![escaped_alias]),
            (format!("/reviews/{id}/chronology"), vec![escaped_entry]),
            (
                format!("/reviews/{id}/agency-reports/police"),
                vec![escaped_summary],
            ),
        ];
        for (path, expected) in pages {
            let page = reviewer.get(&path).await.ok();
            shown_as_text(&path, &page, &expected);
        }
    });
}

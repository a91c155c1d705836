//! The independent reviewer's and the family liaison's pages of the web front end, over
//! HTTP in front of a whole `cspr serve all`: the reviews a reviewer is appointed to, the
//! combined chronology of two agencies' reports (table, filters, a lane per agency in the
//! timeline), an agency's report, practitioners (a suggestion confirmed, one deferred as a
//! police witness, a learning event with its attendance and learning), the family (a
//! member added, restricted, a contribution refused then recorded), the overview report
//! through check your answers, and who is refused.

mod common;

use common::Isolated;
use common::walk::{self, Dates, Setup, Walk, agency};
use common::web::{
    Browser, Site, assert_contains, date_fields, date_fields_on, id_between, pairs, request_id,
    runtime,
};
use cspr_platform::testing::{self, authed};
use cspr_proto::family::v1 as family;
use cspr_proto::family::v1::family_engagement_client::FamilyEngagementClient;
use cspr_proto::google::r#type::Date;
use cspr_proto::practitioners::v1 as practitioners;
use cspr_proto::practitioners::v1::practitioner_engagement_client::PractitionerEngagementClient;
use cspr_proto::registry::v1 as registry;
use cspr_proto::submissions::v1 as submissions;
use reqwest::StatusCode;

/// A chronology entry of `service` "with the family" on (year, month, day).
fn entry(
    (year, month, day): (i32, i32, i32),
    service: &str,
    practitioner: &str,
    role: &str,
) -> submissions::ChronologyEntry {
    walk::entry(
        Some(Date { year, month, day }),
        service,
        (practitioner, role),
        &format!("{service} with the family."),
    )
}

/// A review in information gathering whose reviewer is "Isla Oakes" (her sign-in name is
/// her token's subject), with police and health reports submitted (two entries each).
async fn review_with_two_reports(site: &Site) -> Walk {
    let mut walk = Walk::set_up(
        site,
        Setup {
            alias: "Child R".into(),
            agencies: vec![
                agency("police", "Southvale Police"),
                agency("health", "Southvale Health"),
            ],
            dates: Dates::march_2026(walk::day(60)),
            appoint: true,
            stage: registry::Stage::InformationGathering,
        },
    )
    .await;
    // The report requests arrive in submissions after the terms of reference event.
    walk.report_requests(2).await;
    for (agency, summary, entries) in [
        (
            "police",
            "Police summary of involvement.",
            vec![
                entry(
                    (2025, 6, 1),
                    "Domestic incident call",
                    "Pat Constable",
                    "Police officer",
                ),
                entry(
                    (2025, 7, 10),
                    "Welfare check",
                    "Pat Constable",
                    "Police officer",
                ),
            ],
        ),
        (
            "health",
            "Health summary of involvement.",
            vec![
                entry((2025, 6, 15), "Home visit", "Alex Smith", "Health visitor"),
                entry(
                    (2025, 8, 20),
                    "Clinic appointment",
                    "Bea Witness",
                    "Health visitor",
                ),
            ],
        ),
    ] {
        walk.submit_entries(agency, summary, entries).await;
    }
    walk
}

#[test]
fn the_reviewer_works_on_their_review_and_the_family_liaison_on_the_family() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let mut walk = review_with_two_reports(&site).await;
        let id = walk.id.clone();
        let mut isla = Browser::signed_in(&site, "Isla Oakes", &["reviewer"], None).await;

        // Her reviews: this one, linking to its workspace.
        let reviews = isla.get("/reviewer").await.ok();
        assert!(reviews.contains("Child R"), "{reviews}");
        let workspace_link = format!("/reviews/{id}/workspace");
        assert!(reviews.contains(&workspace_link), "{reviews}");
        let workspace = isla.get(&workspace_link).await.ok();
        assert_contains(
            &workspace,
            &[
                "Child R",
                "Information gathering",
                "Southvale Police",
                "Southvale Health",
                &format!("/reviews/{id}/agency-reports/police"),
                &format!("/reviews/{id}/chronology"),
                &format!("/reviews/{id}/practitioners"),
                &format!("/reviews/{id}/family"),
            ],
        );

        // The combined chronology: both agencies' entries, a lane each.
        let chronology_path = format!("/reviews/{id}/chronology");
        let chronology = isla.get(&chronology_path).await.ok();
        assert_contains(
            &chronology,
            &[
                "Combined chronology",
                "Domestic incident call",
                "Pat Constable (Police officer)",
                "Home visit",
                "Alex Smith (Health visitor)",
                "1 June 2025",
                "20 August 2025",
                "<svg",
            ],
        );
        assert_eq!(
            chronology.matches("class=\"cspr-timeline__lane\"").count(),
            2,
            "{chronology}"
        );
        assert_eq!(chronology.matches("<circle").count(), 4, "{chronology}");
        assert!(
            !chronology.contains("style="),
            "no inline style: {chronology}"
        );
        // In date order across agencies.
        let police = chronology.find("Domestic incident call").expect("police");
        let health = chronology.find("Home visit").expect("health");
        assert!(police < health, "1 June before 15 June");

        // The agency filter narrows it to one lane.
        let police_only = isla
            .get(&format!("{chronology_path}?agency=police"))
            .await
            .ok();
        assert!(police_only.contains("Welfare check"), "{police_only}");
        assert!(!police_only.contains("Home visit"), "{police_only}");
        assert_eq!(
            police_only.matches("class=\"cspr-timeline__lane\"").count(),
            1,
            "{police_only}"
        );
        // By practitioner, and by dates.
        let smith = isla
            .get(&format!("{chronology_path}?practitioner=smith"))
            .await
            .ok();
        assert!(smith.contains("Home visit"), "{smith}");
        assert!(!smith.contains("Welfare check"), "{smith}");
        let later = isla
            .get(&format!(
                "{chronology_path}?from-day=1&from-month=7&from-year=2025"
            ))
            .await
            .ok();
        assert!(later.contains("Welfare check") && later.contains("Clinic appointment"));
        assert!(!later.contains("Domestic incident call"), "{later}");
        let wrong = isla
            .get(&format!(
                "{chronology_path}?from-day=40&from-month=7&from-year=2025"
            ))
            .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.html);
        assert!(
            wrong
                .html
                .contains("href=\"#from\">From must be a real date")
                || wrong
                    .html
                    .contains("href=\"#from\">The start date must be a real date"),
            "{}",
            wrong.html
        );

        // One agency's report.
        let report = isla
            .get(&format!("/reviews/{id}/agency-reports/police"))
            .await
            .ok();
        assert_contains(
            &report,
            &[
                "Southvale Police",
                "Police summary of involvement.",
                "Share information sooner.",
                "Sam Lead, Safeguarding lead",
                "Submitted",
            ],
        );

        practitioners_are_confirmed_deferred_and_invited(&site, &walk, &mut isla).await;
        family_liaison_adds_restricts_and_records(&site, &walk, &mut isla).await;

        a_long_chronology_is_paged(&mut walk, &mut isla).await;
        the_overview_report_is_checked_then_submitted(&site, &mut walk, &mut isla).await;
        the_partnership_asks_and_the_reviewer_answers(&site, &walk, &mut isla).await;

        // A reviewer not appointed to it: none of it.
        let mut otto = Browser::signed_in(&site, "Otto Other", &["reviewer"], None).await;
        let none = otto.get("/reviewer").await.ok();
        assert!(!none.contains("Child R"), "{none}");
        assert!(none.contains("not appointed to any review"), "{none}");
        for path in [
            workspace_link.clone(),
            chronology_path.clone(),
            format!("/reviews/{id}/agency-reports/police"),
            format!("/reviews/{id}/practitioners"),
            format!("/reviews/{id}/family"),
            format!("/reviews/{id}/overview"),
        ] {
            let refused = otto.get(&path).await;
            assert!(
                refused.status == StatusCode::FORBIDDEN || refused.status == StatusCode::NOT_FOUND,
                "{path}: {} {}",
                refused.status,
                refused.html
            );
            assert!(
                !refused.html.contains("Child R"),
                "{path}: {}",
                refused.html
            );
        }
    });
}

/// The business unit asks the reviewer for information in writing (a bad form first), the
/// reviewer is emailed and answers from the workspace, the business unit's mailbox is told,
/// and the review shows both, dated; another reviewer cannot answer.
async fn the_partnership_asks_and_the_reviewer_answers(
    site: &Site,
    walk: &Walk,
    isla: &mut Browser,
) {
    let id = &walk.id;
    let mut ann = Browser::signed_in(site, "Ann Admin", &["partnership_admin"], None).await;
    let path = format!("/reviews/{id}/information-requests");
    let review_page = ann.get(&format!("/reviews/{id}")).await.ok();
    assert!(
        review_page.replace("&#x2f;", "/").contains(&path)
            && review_page.contains("Ask the reviewer for information"),
        "{review_page}"
    );
    let form = ann.get(&path).await.ok();
    assert_contains(
        &form,
        &[
            "Nothing has been asked of the reviewer yet",
            "Ask the reviewer",
        ],
    );
    let key = request_id(&form);
    let mut fields = pairs(&[
        ("request_id", &key),
        ("question", " "),
        ("reply_to_email", ""),
    ]);
    fields.extend(date_fields("respond_by", -1));
    let refused = ann.post_pairs(&path, &fields).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(
        refused
            .html
            .contains("Enter what you are asking the reviewer"),
        "{}",
        refused.html
    );
    // The day is the registry's to check: a day past is refused beside its field.
    let mut fields = pairs(&[("request_id", &key), ("question", "Anything?")]);
    fields.extend(date_fields("respond_by", -1));
    let refused = ann.post_pairs(&path, &fields).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(
        refused.html.contains("Must not be before today") && refused.html.contains("#respond_by"),
        "{}",
        refused.html
    );
    let question = "When will the analysis of the police chronology be ready?";
    let mut fields = pairs(&[
        ("request_id", &key),
        ("question", question),
        ("reply_to_email", "business.unit@southvale.example.org"),
    ]);
    fields.extend(date_fields("respond_by", 7));
    assert_eq!(ann.post_pairs(&path, &fields).await.redirected(), path);
    let asked = ann.get(&path).await.ok();
    assert_contains(
        &asked,
        &[question, "Awaiting answer", "Not answered yet", "Ann Admin"],
    );
    let review_page = ann.get(&format!("/reviews/{id}")).await.ok();
    assert!(
        review_page.contains("1 asked: 1 awaiting an answer"),
        "{review_page}"
    );

    // The reviewer is emailed that a request awaits (without the question), and answers.
    let mail_dir = site.isolated.mail_dir.path().to_path_buf();
    // The emails of `to` whose subject has `subject`, with quoted-printable's soft line
    // breaks taken out so that a phrase of the body reads whole.
    let mail_to = |to: &str, subject: &str| {
        testing::files_in(&mail_dir)
            .into_iter()
            .map(|file| std::fs::read_to_string(file).expect("eml"))
            .filter(|mail| {
                testing::mail_header(mail, "To").is_some_and(|value| value.contains(to))
                    && testing::mail_header(mail, "Subject")
                        .is_some_and(|value| value.contains(subject))
            })
            .map(|mail| mail.replace("=\r\n", "").replace("=\n", ""))
            .collect::<Vec<_>>()
    };
    let to_isla = testing::eventually_blocking("the reviewer's email", testing::DEADLINE, || {
        mail_to("isla@reviewers.example.org", "asks you for information")
            .into_iter()
            .next()
    });
    assert!(to_isla.contains("answer it in writing"), "{to_isla}");
    assert!(!to_isla.contains("police chronology"), "{to_isla}");
    let workspace = isla
        .get(&format!("/reviews/{id}/workspace"))
        .await
        .ok()
        .replace("&#x2f;", "/");
    assert!(workspace.contains(question), "{workspace}");
    let request = id_between(
        &workspace,
        &format!("href=\"/reviews/{id}/information-requests/"),
        "/answer\"",
    );
    let answer_path = format!("/reviews/{id}/information-requests/{request}/answer");
    let mut otto = Browser::signed_in(site, "Otto Other", &["reviewer"], None).await;
    let refused = otto
        .post(
            &answer_path,
            &[("answer", "Not mine to answer.".to_string())],
        )
        .await;
    assert!(
        refused.status == StatusCode::FORBIDDEN || refused.status == StatusCode::NOT_FOUND,
        "{}: {}",
        refused.status,
        refused.html
    );
    let answer_form = isla.get(&answer_path).await.ok();
    assert!(answer_form.contains(question), "{answer_form}");
    let empty = isla.post(&answer_path, &[("answer", String::new())]).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.html.contains("Enter your answer"), "{}", empty.html);
    let answer = "The analysis will be ready by the end of next week.";
    assert_eq!(
        isla.post(&answer_path, &[("answer", answer.to_string())])
            .await
            .redirected(),
        format!("/reviews/{id}/workspace")
    );
    let answered = ann.get(&path).await.ok();
    assert_contains(&answered, &[answer, "Answered"]);
    let again = isla.get(&answer_path).await.ok();
    assert!(again.contains("You answered this request on"), "{again}");
    let to_unit =
        testing::eventually_blocking("the business unit's email", testing::DEADLINE, || {
            mail_to(
                "business.unit@southvale.example.org",
                "reviewer answered your request",
            )
            .into_iter()
            .next()
        });
    assert!(to_unit.contains("by the day asked for"), "{to_unit}");
    assert!(!to_unit.contains("end of next week"), "{to_unit}");
}

/// Suggestions from the chronologies confirmed (one deferred as a police witness), a
/// learning event scheduled with its attendance and learning recorded.
async fn practitioners_are_confirmed_deferred_and_invited(
    site: &Site,
    walk: &Walk,
    isla: &mut Browser,
) {
    let id = &walk.id;
    let list_path = format!("/reviews/{id}/practitioners");
    // The names in the chronologies arrive as suggestions over the bus.
    let admin = &walk.people.admin;
    let client = PractitionerEngagementClient::connect(site.grpc("practitioners"))
        .await
        .expect("practitioners");
    testing::eventually("the suggestions", testing::DEADLINE, || {
        let mut client = client.clone();
        let (id, admin) = (id.to_string(), admin.clone());
        async move {
            let listed = client
                .list_practitioners(authed(
                    practitioners::ListPractitionersRequest {
                        review_id: id,
                        include_suggested: true,
                        ..Default::default()
                    },
                    &admin,
                ))
                .await
                .ok()?
                .into_inner();
            (listed.practitioners.len() >= 3).then_some(())
        }
    })
    .await;
    let list = isla.get(&list_path).await.ok();
    assert!(
        list.contains("Suggested from agency chronologies"),
        "{list}"
    );
    for (name, email) in [
        ("Alex Smith", "alex@health.southvale.example.org"),
        ("Bea Witness", "bea@health.southvale.example.org"),
    ] {
        let list = isla.get(&list_path).await.ok();
        let row = &list[list.find(name).expect("suggested")..];
        let practitioner = id_between(row, &format!("/reviews/{id}/practitioners/"), "/confirm");
        let confirm_path = format!("/reviews/{id}/practitioners/{practitioner}/confirm");
        let form = isla.get(&confirm_path).await.ok();
        assert!(form.contains("Confirm involvement"), "{form}");
        assert!(
            form.contains(&format!("value=\"{name}\"")),
            "prefilled: {form}"
        );
        assert!(form.contains("value=\"Health visitor\""), "{form}");
        // Nothing of the involvement given: the form says so, beside each field.
        let mut sent = pairs(&[
            ("request_id", &request_id(&form)),
            ("name", name),
            ("role", "Health visitor"),
            ("agency_id", "health"),
            ("email", email),
        ]);
        let refused = isla.post_pairs(&confirm_path, &sent.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(
            refused.html.contains(
                "href=\"#involvement_start\">Enter the date they started working with the family"
            ),
            "{}",
            refused.html
        );
        sent.extend(date_fields_on("involvement_start", (1, 1, 2025)));
        sent.extend(date_fields_on("involvement_end", (31, 12, 2025)));
        let confirmed = isla.post_pairs(&confirm_path, &sent).await;
        assert_eq!(
            confirmed.redirected(),
            list_path,
            "{}: {}",
            confirmed.status,
            confirmed.html
        );
    }
    let list = isla.get(&list_path).await.ok();
    let confirmed = &list[list.find("id=\"confirmed\"").expect("confirmed table")..];
    assert_contains(
        confirmed,
        &[
            "Alex Smith",
            "alex@health.southvale.example.org",
            "Bea Witness",
            "1 January 2025 to 31 December 2025",
            "Health visitor, Southvale Health",
        ],
    );

    // Bea is a witness in a police investigation: contact waits.
    let bea = &confirmed[confirmed.find("Bea Witness").expect("Bea")..];
    let bea_id = id_between(
        bea,
        &format!("/reviews/{id}/practitioners/"),
        "/conversation",
    );
    let defer_path = format!("/reviews/{id}/practitioners/{bea_id}/defer");
    let form = isla.get(&defer_path).await.ok();
    assert!(form.contains("Defer contact with Bea Witness"), "{form}");
    let mut sent = pairs(&[
        ("reason", "DEFERRAL_REASON_POLICE_INVESTIGATION_WITNESS"),
        ("detail", "Statement to be taken first"),
        ("authorised_by", "Senior investigating officer"),
    ]);
    // A review date in the past: the service refuses it, beside the field.
    let mut past = sent.clone();
    past.extend(date_fields_on("review_date", (1, 1, 2025)));
    let refused = isla.post_pairs(&defer_path, &past).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(
        refused.html.contains("href=\"#review_date\""),
        "{}",
        refused.html
    );
    sent.extend(date_fields("review_date", 30));
    let deferred = isla.post_pairs(&defer_path, &sent).await;
    assert_eq!(deferred.redirected(), list_path, "{}", deferred.html);
    let list = isla.get(&list_path).await.ok();
    assert_contains(
        &list,
        &[
            "Deferred",
            "Police investigation witness: Statement to be taken first",
            &format!("/reviews/{id}/practitioners/{bea_id}/release"),
        ],
    );

    // A conversation with Alex, with what to prepare; then its learning can be recorded.
    let alex_id = id_between(
        &confirmed[confirmed.find("Alex Smith").expect("Alex")..],
        &format!("/reviews/{id}/practitioners/"),
        "/conversation",
    );
    let conversation_path = format!("/reviews/{id}/practitioners/{alex_id}/conversation");
    let form = isla.get(&conversation_path).await.ok();
    assert!(
        form.contains("Schedule a conversation with Alex Smith"),
        "{form}"
    );
    let mut sent = pairs(&[
        ("request_id", &request_id(&form)),
        ("time", "25:00"),
        ("location", "Online"),
        ("advance_information", "Your notes of the June home visit."),
    ]);
    sent.extend(date_fields("scheduled_at", 14));
    let refused = isla.post_pairs(&conversation_path, &sent.clone()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(
        refused.html.contains("href=\"#time\">Enter a time"),
        "{}",
        refused.html
    );
    sent[1].1 = "14:30".into();
    let scheduled = isla.post_pairs(&conversation_path, &sent).await;
    let conversation = scheduled.redirected().to_string();
    assert!(
        conversation.starts_with(&format!("/reviews/{id}/learning/conversation/")),
        "{}",
        scheduled.html
    );
    let learning = isla.get(&conversation).await.ok();
    assert!(learning.contains("the invitation sent"), "{learning}");

    // The learning event: Alex invited (Bea, deferred, is not offered).
    let event_path = format!("/reviews/{id}/learning-events/new");
    let form = isla.get(&event_path).await.ok();
    assert!(form.contains("Schedule a learning event"), "{form}");
    assert!(form.contains("Alex Smith, Health visitor"), "{form}");
    assert!(!form.contains("Bea Witness"), "deferred: {form}");
    let mut sent = pairs(&[
        ("request_id", &request_id(&form)),
        ("time", "10:00"),
        ("location", "Southvale Civic Centre, Room 2"),
        (
            "agenda",
            "What helped and what hindered information sharing.",
        ),
    ]);
    sent.extend(date_fields("scheduled_at", 21));
    let scheduled = isla.post_pairs(&event_path, &sent).await;
    let event = scheduled.redirected().to_string();
    assert!(
        event.starts_with(&format!("/reviews/{id}/learning-events/")),
        "{event}"
    );
    let attendance = isla.get(&event).await.ok();
    assert!(attendance.contains("Who came?"), "{attendance}");
    let alex = id_between(
        &attendance[attendance.find("Alex Smith").expect("Alex") - 400..],
        "value=\"",
        "\"",
    );
    // Bea was not invited (deferred): the service refuses her, beside the checkboxes.
    let refused = isla
        .post_pairs(&event, &pairs(&[("attended", &bea_id)]))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(
        refused.html.contains("href=\"#attended\""),
        "{}",
        refused.html
    );
    let recorded = isla
        .post_pairs(&event, &pairs(&[("attended", &alex)]))
        .await;
    let learning = recorded.redirected().to_string();
    assert!(learning.contains("/learning/event/"), "{learning}");
    let form = isla.get(&learning).await.ok();
    assert!(form.contains("Information sharing"), "themes: {form}");
    let refused = isla
        .post_pairs(
            &learning,
            &pairs(&[("request_id", &request_id(&form)), ("description_1", "x")]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(
        refused
            .html
            .contains("href=\"#theme_1\">Choose the theme of this learning"),
        "{}",
        refused.html
    );
    let done = isla
        .post_pairs(
            &learning,
            &pairs(&[
                ("request_id", &request_id(&form)),
                ("theme_1", "LEARNING_THEME_INFORMATION_SHARING"),
                (
                    "description_1",
                    "Health and police did not share the referral.",
                ),
            ]),
        )
        .await;
    assert_eq!(done.redirected(), list_path, "{}", done.html);

    // Bea's contact released: open again.
    let released = isla
        .post_pairs(
            &format!("/reviews/{id}/practitioners/{bea_id}/release"),
            &[],
        )
        .await;
    assert_eq!(released.redirected(), list_path, "{}", released.html);
    let list = isla.get(&list_path).await.ok();
    assert!(!list.contains("Deferred"), "{list}");
    assert!(
        list.contains(&format!(
            "/reviews/{id}/practitioners/{bea_id}/conversation"
        )),
        "{list}"
    );
}

/// The family liaison adds a member reached through a professional, restricts contact
/// (a contribution is then refused, with the reason), lifts it and records one; a panel
/// member may not open the family pages.
async fn family_liaison_adds_restricts_and_records(site: &Site, walk: &Walk, isla: &mut Browser) {
    let id = &walk.id;
    let mut fay = Browser::signed_in(site, "Fay Liaison", &["family_liaison"], None).await;
    let family_path = format!("/reviews/{id}/family");
    // The family service learns of the review over the bus.
    let admin = &walk.people.admin;
    let client = FamilyEngagementClient::connect(site.grpc("family"))
        .await
        .expect("family");
    testing::eventually(
        "the review in the family service",
        testing::DEADLINE,
        || {
            let mut client = client.clone();
            let (id, admin) = (id.to_string(), admin.clone());
            async move {
                client
                    .list_family_members(authed(
                        family::ListFamilyMembersRequest {
                            review_id: id,
                            ..Default::default()
                        },
                        &admin,
                    ))
                    .await
                    .ok()
            }
        },
    )
    .await;
    let empty = fay.get(&family_path).await.ok();
    assert!(empty.contains("No family member recorded yet"), "{empty}");
    let add_path = format!("/reviews/{id}/family/new");
    let form = fay.get(&add_path).await.ok();
    let key = request_id(&form);
    let refused = fay
        .post_pairs(
            &add_path,
            &pairs(&[("request_id", &key), ("name", "Morgan Reed")]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert_contains(
        &refused.html,
        &[
            "href=\"#relationship\">Choose how they are related to the child",
            "href=\"#route\">Choose how to contact them",
        ],
    );
    let added = fay
        .post_pairs(
            &add_path,
            &pairs(&[
                ("request_id", &key),
                ("name", "Morgan Reed"),
                ("relationship", "RELATIONSHIP_PARENT"),
                (
                    "contact_decision_note",
                    "Contact after the strategy meeting.",
                ),
                ("route", "known_professional"),
                ("known_professional.name", "Jo Keyworker"),
                ("known_professional.agency", "Southvale Children's Services"),
                ("known_professional.email", "jo@csc.southvale.example.org"),
            ]),
        )
        .await;
    let member_path = added.redirected().to_string();
    assert!(
        member_path.starts_with(&format!("{family_path}/")),
        "{member_path}"
    );
    let member = fay.get(&member_path).await.ok();
    assert_contains(
        &member,
        &[
            "Morgan Reed",
            "Parent",
            "Contact after the strategy meeting.",
            "Through Jo Keyworker, Southvale Children&#x27;s Services (jo@csc.southvale.example.org)",
            "Open",
        ],
    );

    // Restricted while the criminal investigation runs.
    let restrict_path = format!("{member_path}/restrict");
    let form = fay.get(&restrict_path).await.ok();
    assert!(form.contains("Restrict contact"), "{form}");
    let mut sent = pairs(&[
        ("reason", "RESTRICTION_REASON_CRIMINAL_INVESTIGATION"),
        ("detail", "Police asked for no contact yet"),
        ("authorised_by", "Senior investigating officer"),
    ]);
    sent.extend(date_fields("review_date", 30));
    // Edits that cross: the form is made from version 1 of the record; meanwhile the
    // reviewer restricts and lifts contact (version 3), so Fay's restriction is shown the
    // record as it is now, not recorded; sent again from version 3, it is.
    assert!(
        form.contains("name=\"based_on_version\" value=\"1\""),
        "{form}"
    );
    let member_id = member_path.rsplit('/').next().expect("the member id");
    let mut meanwhile = client.clone();
    meanwhile
        .restrict_contact(authed(
            family::RestrictContactRequest {
                review_id: id.clone(),
                member_id: member_id.into(),
                reason: family::RestrictionReason::Other as i32,
                detail: "Briefly, while the police were asked".into(),
                authorised_by: "Isla Oakes".into(),
                review_date: common::walk::day(10),
                based_on_version: Some(1),
            },
            &walk.people.reviewer,
        ))
        .await
        .expect("restricted meanwhile");
    meanwhile
        .lift_restriction(authed(
            family::LiftRestrictionRequest {
                review_id: id.clone(),
                member_id: member_id.into(),
                based_on_version: Some(2),
            },
            &walk.people.reviewer,
        ))
        .await
        .expect("lifted meanwhile");
    sent.push(("based_on_version".into(), "1".into()));
    let crossed = fay.post_pairs(&restrict_path, &sent).await;
    assert_eq!(crossed.status, StatusCode::CONFLICT, "{}", crossed.html);
    assert_contains(
        &crossed.html,
        &[
            "Changed by someone else since you opened it",
            "This family member&#x27;s record was changed since version 1, which this was made from: the current version is 3.",
            "value=\"Senior investigating officer\"",
            "name=\"based_on_version\" value=\"3\"",
        ],
    );
    sent.retain(|(name, _)| name != "based_on_version");
    sent.push(("based_on_version".into(), "3".into()));
    let restricted = fay.post_pairs(&restrict_path, &sent).await;
    assert_eq!(restricted.redirected(), member_path, "{}", restricted.html);
    let member = fay.get(&member_path).await.ok();
    assert_contains(
        &member,
        &[
            "Restricted",
            "Criminal investigation: Police asked for no contact yet",
            "Lift the restriction",
            "no contact, contribution or consultation can be recorded",
        ],
    );
    assert!(!member.contains("Record their contribution"), "{member}");
    let contribution_path = format!("{member_path}/contribution");
    let form = fay.get(&contribution_path).await.ok();
    let views = (
        "views",
        "The health visitor listened; nobody explained the referral.",
    );
    let refused = fay
        .post_pairs(
            &contribution_path,
            &pairs(&[("request_id", &request_id(&form)), views]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.html);
    assert!(
        refused.html.contains("This cannot be done now"),
        "{}",
        refused.html
    );

    // Lifted, the contribution is recorded.
    let lifted = fay.post_pairs(&format!("{member_path}/lift"), &[]).await;
    assert_eq!(lifted.redirected(), member_path, "{}", lifted.html);
    let recorded = fay
        .post_pairs(
            &contribution_path,
            &pairs(&[("request_id", &request_id(&form)), views]),
        )
        .await;
    assert_eq!(recorded.redirected(), member_path, "{}", recorded.html);
    let member = fay.get(&member_path).await.ok();
    assert!(
        member.contains("Contributions</dt><dd class=\"govuk-summary-list__value\">1<"),
        "{member}"
    );
    assert!(!member.contains("Lift the restriction"), "{member}");
    // What they said, as the family service returned it, with who recorded it and when.
    let recorded_on = chrono::Utc::now().format("%-d %B %Y").to_string();
    assert_contains(
        &member,
        &[
            "<p class=\"govuk-body\">The health visitor listened; nobody explained the referral.</p>",
            &format!("Recorded {recorded_on}, "),
            " by Fay Liaison</h3>",
            "No contact logged yet.",
        ],
    );

    // A contribution that looks like markup is shown as text, never run.
    let form = fay.get(&contribution_path).await.ok();
    let recorded = fay
        .post_pairs(
            &contribution_path,
            &pairs(&[
                ("request_id", &request_id(&form)),
                ("views", "<script>alert(\"family\")</script>"),
            ]),
        )
        .await;
    assert_eq!(recorded.redirected(), member_path, "{}", recorded.html);
    let member = fay.get(&member_path).await.ok();
    assert!(
        member.contains(
            "<p class=\"govuk-body\">&lt;script&gt;alert(&quot;family&quot;)&lt;&#x2f;script&gt;</p>"
        ),
        "{member}"
    );
    assert!(!member.contains("<script>alert"), "{member}");
    let newest = member.find("&lt;script&gt;alert").expect("the newest");
    let first = member
        .find("The health visitor listened; nobody explained the referral.")
        .expect("the first");
    assert!(newest < first, "newest first: {member}");
    assert!(
        member.contains("Contributions</dt><dd class=\"govuk-summary-list__value\">2<"),
        "{member}"
    );

    // A contact logged, and the consultation on publication with its answer.
    let contact_path = format!("{member_path}/contact");
    let form = fay.get(&contact_path).await.ok();
    let mut sent = pairs(&[
        ("request_id", &request_id(&form)),
        ("time", "11:15"),
        ("made_by", "Jo Keyworker"),
        ("route", "known professional"),
        (
            "summary",
            "Explained the review; Morgan will think about taking part.",
        ),
    ]);
    sent.extend(date_fields("contacted_at", -2));
    let logged = fay.post_pairs(&contact_path, &sent).await;
    assert_eq!(logged.redirected(), member_path, "{}", logged.html);
    let consultation_path = format!("{member_path}/consultation");
    let form = fay.get(&consultation_path).await.ok();
    assert!(
        form.contains("Their known professional is emailed"),
        "{form}"
    );
    let mut sent = pairs(&[("request_id", &request_id(&form))]);
    sent.extend(date_fields("response_due", 28));
    let consulted = fay.post_pairs(&consultation_path, &sent).await;
    assert_eq!(consulted.redirected(), member_path, "{}", consulted.html);
    let answered = fay
        .post_pairs(
            &format!("{member_path}/response"),
            &pairs(&[("response", "Content for it to be published without names.")]),
        )
        .await;
    assert_eq!(answered.redirected(), member_path, "{}", answered.html);
    let member = fay.get(&member_path).await.ok();
    let contacted_on = (chrono::Utc::now() - chrono::Days::new(2))
        .format("%-d %B %Y, 11:15 UTC")
        .to_string();
    assert_contains(
        &member,
        &[
            "Contacts logged</dt><dd class=\"govuk-summary-list__value\">1<",
            "through their known professional, response due by",
            "Their response: Content for it to be published without names.",
            // The contact log's row: when, how, by whom, what passed.
            &format!("<td class=\"govuk-table__cell\">{contacted_on}</td>"),
            "<td class=\"govuk-table__cell\">known professional</td>",
            "<td class=\"govuk-table__cell\">Jo Keyworker</td>",
            "<td class=\"govuk-table__cell\">Explained the review; Morgan will think about taking part.</td>",
        ],
    );
    assert!(!member.contains("No contact logged yet."), "{member}");

    // A member with no known professional is asked directly, by the family liaison.
    let form = fay.get(&add_path).await.ok();
    let added = fay
        .post_pairs(
            &add_path,
            &pairs(&[
                ("request_id", &request_id(&form)),
                ("name", "Sam Reed"),
                ("relationship", "RELATIONSHIP_SIBLING"),
                ("contact_decision_note", "Over 18; asked to be contacted."),
                ("route", "direct"),
                ("direct.contact_details", "07700 900456"),
                ("direct.reason", "No professional works with Sam"),
            ]),
        )
        .await;
    let direct_path = added.redirected().to_string();
    let form = fay.get(&format!("{direct_path}/consultation")).await.ok();
    assert_contains(
        &form,
        &[
            "you ask them yourself, through their direct contact",
            "07700 900456",
            "Record that you asked them",
        ],
    );
    let mut sent = pairs(&[("request_id", &request_id(&form))]);
    sent.extend(date_fields("response_due", 28));
    let consulted = fay
        .post_pairs(&format!("{direct_path}/consultation"), &sent)
        .await;
    assert_eq!(consulted.redirected(), direct_path, "{}", consulted.html);
    let member = fay.get(&direct_path).await.ok();
    assert!(
        member.contains("directly, by the family liaison, response due by"),
        "{member}"
    );

    // The reviewer sees the member by name too, and what they said.
    let list = isla.get(&family_path).await.ok();
    assert!(
        list.contains("Morgan Reed") && list.contains("Parent"),
        "{list}"
    );
    let seen = isla.get(&member_path).await.ok();
    assert_contains(
        &seen,
        &[
            "The health visitor listened; nobody explained the referral.",
            "&lt;script&gt;alert(&quot;family&quot;)&lt;&#x2f;script&gt;",
            "Explained the review; Morgan will think about taking part.",
        ],
    );

    // A panel member may not open the family pages.
    let mut pat = Browser::signed_in(site, "Pat Member", &["panel_member"], None).await;
    for path in [family_path.clone(), member_path.clone(), add_path.clone()] {
        let denied = pat.get(&path).await;
        assert_eq!(
            denied.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            denied.html
        );
        assert!(
            denied.html.contains("You do not have access"),
            "{}",
            denied.html
        );
        assert!(
            !denied.html.contains("Morgan Reed") && !denied.html.contains("nobody explained"),
            "{}",
            denied.html
        );
    }
}

/// Police resubmit with 10,050 entries: the first page of 100 comes quickly, with a next
/// page; the last page has the rest.
async fn a_long_chronology_is_paged(walk: &mut Walk, isla: &mut Browser) {
    let entries = (0..10_050).map(|n| {
        entry(
            (2025, 1 + (n / 28) % 12, 1 + n % 28),
            &format!("Patrol {n}"),
            "Pat Constable",
            "Police officer",
        )
    });
    walk.submit_entries("police", "Police summary, version 2.", entries.collect())
        .await;
    let id = &walk.id;
    let path = format!("/reviews/{id}/chronology?agency=police");
    let started = std::time::Instant::now();
    let first = isla.get(&path).await.ok();
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    assert!(first.contains("Entries 1 to 100"), "{first}");
    assert_eq!(first.matches("<circle").count(), 100);
    assert!(
        first.contains("rel=\"next\"") && !first.contains("rel=\"prev\""),
        "{first}"
    );
    let last = isla.get(&format!("{path}&page=101")).await.ok();
    assert!(last.contains("Entries 10001 to 10050"), "{last}");
    assert!(
        last.contains("rel=\"prev\"") && !last.contains("rel=\"next\""),
        "{last}"
    );
}

/// The overview report: drafted, checked, refused before drafting, then submitted once
/// the reports are accepted and the review has moved on.
async fn the_overview_report_is_checked_then_submitted(
    site: &Site,
    walk: &mut Walk,
    isla: &mut Browser,
) {
    let id = walk.id.clone();
    let overview_path = format!("/reviews/{id}/overview");
    let form = isla.get(&overview_path).await.ok();
    assert!(form.contains("Overview report"), "{form}");
    let key = request_id(&form);
    let refused = isla
        .post_pairs(
            &overview_path,
            &pairs(&[
                ("request_id", &key),
                ("findings", ""),
                ("text_1", "Share referrals"),
            ]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert_contains(
        &refused.html,
        &[
            "href=\"#findings\">Enter the summary of the review&#x27;s findings",
            "href=\"#enquiry_1\">Enter the findings on this line of enquiry",
            "href=\"#ref_1\">Enter a reference for this recommendation",
        ],
    );
    let answers = pairs(&[
        ("request_id", &key),
        ("findings", "Concerns about neglect were not shared."),
        ("enquiry_1", "Health did not tell social care what it saw."),
        ("standards_met", "Not in the health visiting service."),
        (
            "policies_followed",
            "The neglect strategy was not followed.",
        ),
        ("working_together", "Concerns stayed within each agency."),
        ("good_practice", "The school acted the same day."),
        ("learning", "Neglect needs a shared picture over time."),
        ("ref_1", "R1"),
        ("text_1", "Agree an information-sharing protocol."),
        ("ref_2", "R2"),
        ("text_2", "Train staff on recognising neglect."),
    ]);
    let check = isla.post_pairs(&overview_path, &answers.clone()).await.ok();
    assert_contains(
        &check,
        &[
            "Check your overview report before submitting it",
            "Concerns about neglect were not shared.",
            "R1",
            "Agree an information-sharing protocol.",
            "R2",
            "Train staff on recognising neglect.",
        ],
    );
    let mut change = answers.clone();
    change.push(("change".into(), "yes".into()));
    let again = isla.post_pairs(&overview_path, &change).await.ok();
    assert!(
        again.contains("Train staff on recognising neglect.</textarea>"),
        "{again}"
    );
    // Not at drafting yet: the registry's reason.
    let submit_path = format!("{overview_path}/submit");
    let early = isla.post_pairs(&submit_path, &answers.clone()).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.html);
    assert!(
        early.html.contains("This cannot be done now"),
        "{}",
        early.html
    );

    // The panel accepts both reports; the review moves to overview drafting.
    for (agency, version) in [("police", 2), ("health", 1)] {
        walk.submissions
            .accept_agency_report(authed(
                submissions::AcceptAgencyReportRequest {
                    review_id: id.clone(),
                    agency_id: agency.into(),
                    version,
                },
                &walk.people.chair,
            ))
            .await
            .expect("accepted");
    }
    for stage in [
        registry::Stage::Engagement,
        registry::Stage::OverviewDrafting,
    ] {
        walk.advance_eventually(stage).await;
    }
    let submitted = isla.post_pairs(&submit_path, &answers).await;
    assert_eq!(
        submitted.redirected(),
        format!("/reviews/{id}/workspace"),
        "{}",
        submitted.html
    );
    let workspace = isla.get(&format!("/reviews/{id}/workspace")).await.ok();
    assert!(workspace.contains("Panel approval"), "{workspace}");
    let form = isla.get(&overview_path).await.ok();
    assert!(form.contains("Version 1 was submitted"), "{form}");
    assert!(
        form.contains("value=\"R2\""),
        "the latest version to start from: {form}"
    );

    // Only the appointed reviewer writes it.
    let mut pat = Browser::signed_in(site, "Pat Member", &["panel_member"], None).await;
    let denied = pat.get(&overview_path).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.html);
    // The reviewer's list is a reviewer's: others have the dashboard.
    let denied = pat.get("/reviewer").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.html);
}

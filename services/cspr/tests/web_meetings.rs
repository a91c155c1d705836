//! The panel's meetings in the web front end, over HTTP in front of a whole `cspr serve
//! all`: the business unit schedules a meeting on a summer day in UK time (stored an hour
//! earlier in UTC) and changes it, schedules a winter one and cancels it, is told a meeting
//! cannot be recorded before it starts, records it (once moved to when it was held) with a
//! decision on the terms of reference linked to the command that set them; the meetings are
//! paged; a panel member and the reviewer read them without the forms; an agency is refused.
//!
//! The services run on the real clock, so a meeting is recorded by moving it to yesterday
//! first (a change, unlike a new meeting, may be in the past: it says when it was held).

mod common;

use chrono::{Datelike, Duration, NaiveDate, Utc};
use common::Isolated;
use common::walk::Walk;
use common::web::{
    Browser, Site, assert_contains, date_fields, date_fields_on, pairs, request_id, runtime,
};
use cspr_platform::testing::{self, authed};
use cspr_proto::registry::v1 as registry;
use reqwest::StatusCode;

/// An attribute's value as a browser reads it (minijinja escapes `/` in them).
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// The review's meetings as the registry lists them (earliest first).
async fn meetings_of(walk: &mut Walk) -> Vec<registry::PanelMeeting> {
    walk.registry
        .list_panel_meetings(authed(
            registry::ListPanelMeetingsRequest {
                review_id: walk.id.clone(),
                page_size: 100,
                page_token: String::new(),
            },
            &walk.people.admin,
        ))
        .await
        .expect("meetings")
        .into_inner()
        .meetings
}

fn meeting<'a>(meetings: &'a [registry::PanelMeeting], id: &str) -> &'a registry::PanelMeeting {
    meetings
        .iter()
        .find(|meeting| meeting.id == id)
        .unwrap_or_else(|| panic!("meeting {id} in {meetings:?}"))
}

/// `hour`:`minute` UTC on `day`, as the seconds of a protobuf timestamp.
fn utc(day: NaiveDate, hour: u32, minute: u32) -> i64 {
    day.and_hms_opt(hour, minute, 0)
        .expect("time")
        .and_utc()
        .timestamp()
}

/// The schedule and change form: `day`, from `start` to `end` (UK time), at `location`.
fn arrangements(
    day: (impl ToString, impl ToString, impl ToString),
    start: &str,
    end: &str,
    location: &str,
) -> Vec<(String, String)> {
    let mut fields = pairs(&[
        ("start_time", start),
        ("end_time", end),
        ("location", location),
        (
            "agenda",
            "Agree the terms of reference\r\nPlan the learning event",
        ),
    ]);
    fields.extend(date_fields_on("date", day));
    fields
}

#[test]
fn the_business_unit_schedules_changes_cancels_and_records_panel_meetings() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let mut walk = Walk::engaged(&site).await;
        let review = format!("/reviews/{}", walk.id);
        let meetings = format!("{review}/meetings");
        let new = format!("{meetings}/new");
        let mut ann = Browser::signed_in(&site, "Ann Admin", &["partnership_admin"], None).await;

        // The review links its meetings (a page of the review, and a command).
        let page = ann.get(&review).await.ok();
        assert!(
            unescape(&page).contains(&format!("href=\"{meetings}\"")),
            "{page}"
        );
        let list = ann.get(&meetings).await.ok();
        assert_contains(
            &list,
            &["Panel meetings", "No panel meeting has been scheduled yet."],
        );
        assert!(
            unescape(&list).contains(&format!("href=\"{new}\"")),
            "{list}"
        );

        // A new meeting: what is wrong named beside its field, what was typed kept, the
        // form's idempotency key the same across attempts.
        let form = ann.get(&new).await.ok();
        let key = request_id(&form);
        let year = Utc::now().year() + 1;
        let summer = NaiveDate::from_ymd_opt(year, 7, 15).expect("day");
        let mut wrong = pairs(&[
            ("request_id", &key),
            ("start_time", "25:00"),
            ("end_time", ""),
            ("location", "Civic Centre, room 2"),
            ("agenda", ""),
        ]);
        wrong.extend(date_fields_on("date", (15, 7, year)));
        let refused = ann.post_pairs(&new, &wrong).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert_contains(
            &refused.html,
            &[
                "There is a problem",
                "href=\"#start_time\">Enter the start time as hours and minutes, like 14:30",
                "href=\"#end_time\">Enter the end time",
                "href=\"#agenda\">Enter the agenda, one item on each line",
                "value=\"Civic Centre, room 2\"",
                "value=\"25:00\"",
                &format!("value=\"{year}\""),
            ],
        );
        assert_eq!(request_id(&refused.html), key);
        // A new meeting in the past: the registry's refusal, beside the start time.
        let mut past = arrangements(("1", "1", "2026"), "10:00", "12:00", "Civic Centre");
        past.push(("request_id".into(), key.clone()));
        let refused = ann.post_pairs(&new, &past).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(
            refused
                .html
                .contains("href=\"#start_time\">A new meeting must not start in the past."),
            "{}",
            refused.html
        );

        // 10:00 to 12:00 on 15 July, UK time: British Summer Time, 09:00 to 11:00 UTC.
        let mut fields = arrangements((15, 7, year), "10:00", "12:00", "Civic Centre, room 2");
        fields.push(("request_id".into(), key.clone()));
        assert_eq!(ann.post_pairs(&new, &fields).await.redirected(), meetings);
        // Sent again (a double click, a resend): the same meeting, not a second.
        assert_eq!(ann.post_pairs(&new, &fields).await.redirected(), meetings);
        let listed = meetings_of(&mut walk).await;
        assert_eq!(listed.len(), 1, "{listed:?}");
        let first = listed[0].clone();
        assert_eq!(
            first.start_time.map(|at| at.seconds),
            Some(utc(summer, 9, 0))
        );
        assert_eq!(
            first.end_time.map(|at| at.seconds),
            Some(utc(summer, 11, 0))
        );
        assert_eq!(
            first.agenda,
            vec!["Agree the terms of reference", "Plan the learning event"]
        );
        assert_eq!(first.scheduled_by, "Ann Admin");
        let summer_day = summer.format("%A %-d %B %Y").to_string();
        let list = ann.get(&meetings).await.ok();
        assert_contains(
            &list,
            &[
                &format!("{summer_day}, 10:00 to 12:00"),
                "Civic Centre, room 2",
                "<li>Plan the learning event</li>",
                ">Scheduled</strong>",
                "It can be recorded once it has started.",
            ],
        );
        let links = unescape(&list);
        let base = format!("{meetings}/{}", first.id);
        assert!(links.contains(&format!("href=\"{base}/change\"")), "{list}");
        assert!(links.contains(&format!("href=\"{base}/cancel\"")), "{list}");
        assert!(!links.contains(&format!("{base}/record")), "{list}");

        // Changed: the form starts from the meeting in UK time; moved to 2pm, online.
        let change = format!("{base}/change");
        let form = ann.get(&change).await.ok();
        assert_contains(
            &form,
            &[
                "value=\"10:00\"",
                "value=\"12:00\"",
                "name=\"date-day\" type=\"text\" inputmode=\"numeric\" value=\"15\"",
                "name=\"date-month\" type=\"text\" inputmode=\"numeric\" value=\"7\"",
                "Agree the terms of reference\nPlan the learning event</textarea>",
            ],
        );
        let link = "https://meet.example.org/southvale-panel";
        let moved = arrangements((15, 7, year), "2pm", "16:00", link);
        assert_eq!(ann.post_pairs(&change, &moved).await.redirected(), meetings);
        let changed = meeting(&meetings_of(&mut walk).await, &first.id).clone();
        assert_eq!(
            changed.start_time.map(|at| at.seconds),
            Some(utc(summer, 13, 0))
        );
        assert_eq!(changed.sequence, 1);
        assert_eq!(changed.location, link);
        let list = ann.get(&meetings).await.ok();
        assert_contains(
            &list,
            &[&format!("{summer_day}, 14:00 to 16:00"), "Changed 1 time"],
        );
        assert!(
            unescape(&list).contains(&format!("<a class=\"govuk-link\" href=\"{link}\"")),
            "{list}"
        );

        // A second meeting, in winter (GMT: UK time is UTC), then cancelled.
        let winter = NaiveDate::from_ymd_opt(year, 1, 20).expect("day");
        let form = ann.get(&new).await.ok();
        let mut second = arrangements((20, 1, year), "9:30", "11:00", "Civic Centre, room 4");
        second.push(("request_id".into(), request_id(&form)));
        assert_eq!(ann.post_pairs(&new, &second).await.redirected(), meetings);
        let listed = meetings_of(&mut walk).await;
        assert_eq!(listed.len(), 2, "{listed:?}");
        // Earliest first: January before July.
        let second = listed[0].clone();
        assert_eq!(
            second.start_time.map(|at| at.seconds),
            Some(utc(winter, 9, 30))
        );
        let cancel = format!("{meetings}/{}/cancel", second.id);
        let form = ann.get(&cancel).await.ok();
        assert_contains(&form, &["Cancel a panel meeting", "Civic Centre, room 4"]);
        let refused = ann.post(&cancel, &[("reason", String::new())]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(
            refused
                .html
                .contains("href=\"#reason\">Enter why the meeting is cancelled"),
            "{}",
            refused.html
        );
        let reason = [("reason", "The chair is unwell".to_string())];
        assert_eq!(ann.post(&cancel, &reason).await.redirected(), meetings);
        // Sent twice: the first cancelled it.
        assert_eq!(ann.post(&cancel, &reason).await.redirected(), meetings);
        let cancelled = meeting(&meetings_of(&mut walk).await, &second.id).clone();
        assert_eq!(cancelled.status(), registry::PanelMeetingStatus::Cancelled);
        assert_eq!(cancelled.cancel_reason, "The chair is unwell");
        assert_eq!(cancelled.sequence, 1);
        let list = ann.get(&meetings).await.ok();
        assert_contains(
            &list,
            &[
                &format!("{}, 09:30 to 11:00", winter.format("%A %-d %B %Y")),
                ">Cancelled</strong>",
                "The chair is unwell",
            ],
        );
        // The cancellation is not a change.
        assert_eq!(list.matches("Changed 1 time").count(), 1, "{list}");
        assert!(!unescape(&list).contains(&format!("{}/change", second.id)));

        // Recorded before it starts: the registry's reason on the form, nothing lost.
        let record = format!("{base}/record");
        let form = ann.get(&record).await.ok();
        assert_contains(
            &form,
            &["Record a panel meeting", "Decision 5", "Action point 5"],
        );
        let mut minutes = pairs(&[
            ("attendance", "Tess Holroyd (chair)\r\nAnn Admin"),
            ("apologies", "Isla Oakes"),
            (
                "minutes",
                "The panel agreed the terms of reference.\r\nA learning event will follow.",
            ),
            ("decision_kind_0", "PANEL_DECISION_KIND_TERMS_AGREED"),
            ("decision_text_0", "The terms of reference are agreed"),
            ("decision_kind_1", ""),
            ("decision_text_1", ""),
            ("decision_kind_2", "PANEL_DECISION_KIND_OTHER"),
            ("decision_text_2", "Hold a learning event in February"),
            ("decision_kind_3", "PANEL_DECISION_KIND_REPORTS_ACCEPTED"),
            (
                "decision_text_3",
                "Accept the agencies' reports when they arrive",
            ),
            ("action_text_0", "Book the learning event"),
            ("action_owner_0", "Ann Admin"),
        ]);
        minutes.extend(date_fields("action_due_0", 30));
        // A row half filled in is named; the rest kept.
        let mut half = minutes.clone();
        half.push(("decision_text_4".into(), "Something".into()));
        let refused = ann.post_pairs(&record, &half).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert_contains(
            &refused.html,
            &[
                "href=\"#decision_kind_4\">Select what decision 5 was about",
                "Hold a learning event in February",
            ],
        );
        let early = ann.post_pairs(&record, &minutes).await;
        assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.html);
        assert_contains(
            &early.html,
            &[
                "There is a problem",
                "href=\"#meeting\">This meeting starts ",
                "it can be recorded once it has started.",
                "A learning event will follow.</textarea>",
                "value=\"Book the learning event\"",
            ],
        );
        assert_eq!(
            meeting(&meetings_of(&mut walk).await, &first.id).status(),
            registry::PanelMeetingStatus::Scheduled
        );

        // It was held yesterday, 10:00 to 12:00: moved to then, it can be recorded.
        let mut held = pairs(&[
            ("start_time", "10:00"),
            ("end_time", "12:00"),
            ("location", link),
            (
                "agenda",
                "Agree the terms of reference\r\nPlan the learning event",
            ),
        ]);
        held.extend(date_fields("date", -1));
        assert_eq!(ann.post_pairs(&change, &held).await.redirected(), meetings);
        let list = ann.get(&meetings).await.ok();
        assert!(
            unescape(&list).contains(&format!("href=\"{record}\"")),
            "{list}"
        );
        // The chair sets the terms of reference (again) before the panel's record.
        let terms = walk
            .review()
            .await
            .terms_of_reference
            .expect("terms of reference");
        walk.registry
            .set_terms_of_reference(authed(
                registry::SetTermsOfReferenceRequest {
                    review_id: walk.id.clone(),
                    scope_start: terms.scope_start,
                    scope_end: terms.scope_end,
                    key_lines_of_enquiry: terms.key_lines_of_enquiry,
                    methodology: "Systems approach, agreed by the panel".into(),
                    agencies_in_scope: terms.agencies_in_scope,
                    report_due_date: terms.report_due_date,
                    based_on_version: None,
                },
                &walk.people.chair,
            ))
            .await
            .expect("terms of reference set again");
        assert_eq!(
            ann.post_pairs(&record, &minutes).await.redirected(),
            meetings
        );
        // Sent twice: the first recorded it.
        assert_eq!(
            ann.post_pairs(&record, &minutes).await.redirected(),
            meetings
        );
        let recorded = meeting(&meetings_of(&mut walk).await, &first.id).clone();
        assert_eq!(recorded.status(), registry::PanelMeetingStatus::Held);
        let record_of = recorded.record.expect("its record");
        assert_eq!(
            record_of.attendance,
            vec!["Tess Holroyd (chair)", "Ann Admin"]
        );
        assert_eq!(record_of.decisions.len(), 3, "the empty row is ignored");
        let carried = &record_of.decisions[0].carried_out_by;
        assert_eq!(carried.len(), 1, "{carried:?}");
        assert_eq!(carried[0].action, "SetTermsOfReference");
        assert_eq!(carried[0].actor, "tess");

        let list = ann.get(&meetings).await.ok();
        assert_contains(
            &list,
            &[
                ">Held</strong>",
                "<li>Tess Holroyd (chair)</li>",
                "<li>Isla Oakes</li>",
                "<p class=\"govuk-body\">A learning event will follow.</p>",
                "<strong>Terms of reference agreed</strong>: The terms of reference are agreed",
                "<strong>Other decision</strong>: Hold a learning event in February",
                "<strong>Agency reports accepted</strong>",
                "Not carried out yet",
                "Book the learning event",
                "<td class=\"govuk-table__cell\">Ann Admin</td>",
            ],
        );
        // The command that carried the terms out, at its time in UK time (GMT, or BST).
        let set_at = chrono::DateTime::from_timestamp(
            carried[0].time.as_ref().expect("its time").seconds,
            0,
        )
        .expect("a time");
        let carried_out = [set_at, set_at + Duration::hours(1)].map(|at| {
            format!(
                "Carried out by SetTermsOfReference, tess, {}",
                at.format("%-d %B %Y %H:%M")
            )
        });
        assert!(
            carried_out
                .iter()
                .any(|words| list.contains(words.as_str())),
            "{carried_out:?} in {list}"
        );
        let due = Utc::now().date_naive() + Duration::days(30);
        assert!(
            list.contains(&due.format("%-d %B %Y").to_string()),
            "{list}"
        );
        // Held: nothing more to change, cancel or record.
        let links = unescape(&list);
        for action in ["change", "cancel", "record"] {
            assert!(
                !links.contains(&format!("{base}/{action}")),
                "{action}: {list}"
            );
        }
        let again = ann.get(&change).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.html);

        // Past 20 meetings, the list goes on to a next page, by the registry's page token.
        for day in 1..=19 {
            walk.registry
                .schedule_panel_meeting(authed(
                    registry::SchedulePanelMeetingRequest {
                        review_id: walk.id.clone(),
                        request_id: format!("{}-{day}", testing::unique("meeting")),
                        meeting_id: String::new(),
                        start_time: Some(prost_types::Timestamp {
                            seconds: utc(
                                NaiveDate::from_ymd_opt(year, 3, day).expect("day"),
                                10,
                                0,
                            ),
                            nanos: 0,
                        }),
                        end_time: Some(prost_types::Timestamp {
                            seconds: utc(
                                NaiveDate::from_ymd_opt(year, 3, day).expect("day"),
                                11,
                                0,
                            ),
                            nanos: 0,
                        }),
                        location: format!("Room {day}"),
                        agenda: vec!["Progress".into()],
                    },
                    &walk.people.admin,
                ))
                .await
                .expect("scheduled");
        }
        let list = ann.get(&meetings).await.ok();
        assert_eq!(list.matches("class=\"govuk-summary-card\"").count(), 20);
        let next = unescape(&list);
        let marker = format!("href=\"{meetings}?page_token=");
        let start = next.find(&marker).expect("a next page") + "href=\"".len();
        let end = start + next[start..].find('"').expect("its end");
        let rest = ann.get(&next[start..end]).await.ok();
        assert_eq!(
            rest.matches("class=\"govuk-summary-card\"").count(),
            1,
            "{rest}"
        );
        assert_contains(&rest, &["First page", "Room 19"]);
    });
}

#[test]
fn the_panel_and_the_reviewer_read_the_meetings_and_an_agency_is_refused() {
    testing::init();
    let runtime = runtime();
    let site = Site::start(Isolated::new());
    runtime.block_on(async {
        let mut walk = Walk::engaged(&site).await;
        let review = format!("/reviews/{}", walk.id);
        let meetings = format!("{review}/meetings");
        let start = Utc::now() + Duration::days(10);
        let meeting = walk
            .registry
            .schedule_panel_meeting(authed(
                registry::SchedulePanelMeetingRequest {
                    review_id: walk.id.clone(),
                    request_id: testing::unique("meeting"),
                    meeting_id: String::new(),
                    start_time: Some(prost_types::Timestamp {
                        seconds: start.timestamp(),
                        nanos: 0,
                    }),
                    end_time: Some(prost_types::Timestamp {
                        seconds: (start + Duration::hours(2)).timestamp(),
                        nanos: 0,
                    }),
                    location: "Civic Centre, room 2".into(),
                    agenda: vec!["Agree the learning event".into()],
                },
                &walk.people.chair,
            ))
            .await
            .expect("scheduled")
            .into_inner();

        // A panel member: the meetings from the review and the panel's pages, no forms.
        let mut pat = Browser::signed_in(&site, "Pat Member", &["panel_member"], None).await;
        let page = pat.get(&review).await.ok();
        assert!(
            unescape(&page).contains(&format!("href=\"{meetings}\"")),
            "{page}"
        );
        let panel = pat.get(&format!("/panel/reviews/{}", walk.id)).await.ok();
        assert!(
            unescape(&panel).contains(&format!("href=\"{meetings}\"")),
            "{panel}"
        );
        let list = pat.get(&meetings).await.ok();
        assert_contains(
            &list,
            &[
                "Civic Centre, room 2",
                "Agree the learning event",
                ">Scheduled</strong>",
            ],
        );
        let links = unescape(&list);
        for form in ["/meetings/new", "/change", "/cancel", "/record"] {
            assert!(!links.contains(form), "{form}: {list}");
        }
        for form in [
            format!("{meetings}/new"),
            format!("{meetings}/{}/cancel", meeting.id),
        ] {
            let denied = pat.get(&form).await;
            assert_eq!(denied.status, StatusCode::FORBIDDEN, "{form}");
        }
        let denied = pat
            .post(
                &format!("{meetings}/{}/cancel", meeting.id),
                &[("reason", "Not mine to cancel".to_string())],
            )
            .await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.html);
        assert_eq!(
            meetings_of(&mut walk).await[0].status(),
            registry::PanelMeetingStatus::Scheduled
        );

        // The chair schedules and changes them.
        let mut tess = Browser::signed_in(&site, "Tess Holroyd", &["panel_chair"], None).await;
        let list = tess.get(&meetings).await.ok();
        let links = unescape(&list);
        assert!(
            links.contains(&format!("href=\"{meetings}/new\"")),
            "{list}"
        );
        assert!(
            links.contains(&format!("href=\"{meetings}/{}/change\"", meeting.id)),
            "{list}"
        );

        // The appointed reviewer, from their workspace.
        let mut isla = Browser::signed_in(&site, common::walk::REVIEWER, &["reviewer"], None).await;
        let workspace = isla.get(&format!("{review}/workspace")).await.ok();
        assert!(
            unescape(&workspace).contains(&format!("href=\"{meetings}\"")),
            "{workspace}"
        );
        let list = isla.get(&meetings).await.ok();
        assert!(list.contains("Agree the learning event"), "{list}");
        assert!(!unescape(&list).contains("/meetings/new"), "{list}");

        // An agency: not for them.
        let mut police = Browser::signed_in(&site, "Sam Lead", &["agency"], Some("police")).await;
        let denied = police.get(&meetings).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.html);
        assert!(
            denied.html.contains("You do not have access"),
            "{}",
            denied.html
        );
    });
}

//! Agency submissions over gRPC against real PostgreSQL and NATS: large reports round-trip,
//! broken streams store nothing, bad entries are named, agencies see only their own,
//! retries are safe, requests come once from the terms of reference, the chronology is in
//! date order, and the panel's decisions follow their rules.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{
    Refusal, Reply, SubmissionsTest, TestSubmissions, assert_says, authed, chronology,
    chronology_limited, entry, header, submit, swept_together,
};
use cspr_proto::submissions::v1 as pb;
use cspr_submissions::jobs::ReportReminders;
use tonic::Code;

#[tokio::test]
async fn a_ten_thousand_entry_report_round_trips_exactly() {
    let service = TestSubmissions::start("2026-03-20").await;
    let review_id = service.review_with_agencies(&["police", "gp"]).await;
    let mut client = service.client.clone();
    let sent: Vec<pb::ChronologyEntry> = (0..10_000)
        .map(|index| entry(index, "police", "2024-09-15"))
        .collect();

    let receipt = submit(
        &mut client,
        &service.agency_token("police"),
        header("police-v1", &review_id, "police", 10_000),
        sent.clone(),
    )
    .await
    .expect("submitted");

    assert_eq!(receipt.version, 1);
    assert_eq!(receipt.entry_count, 10_000);
    assert_eq!(receipt.content_hash.len(), 64);
    let received = chronology(
        &mut client,
        &service.role_token("panel_chair"),
        &review_id,
        true,
    )
    .await
    .expect("chronology");
    assert_eq!(received.len(), 10_000);
    for (sent, received) in sent.iter().zip(&received) {
        assert_eq!(received.agency_id, "police");
        assert_eq!(received.entry.as_ref(), Some(sent));
    }
    // Accepted only (the default): nothing yet.
    assert!(
        chronology(
            &mut client,
            &service.role_token("panel_chair"),
            &review_id,
            false
        )
        .await
        .expect("chronology")
        .is_empty()
    );

    // The submitted event names each practitioner once.
    let events = service.published(3).await;
    let submitted: Vec<_> = events
        .iter()
        .filter_map(|(_, event)| match &event.body {
            Some(cspr_proto::events::v1::event::Body::AgencyReportSubmitted(submitted)) => {
                Some(submitted.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(submitted.len(), 1);
    assert_eq!(submitted[0].entry_count, 10_000);
    assert_eq!(submitted[0].practitioners.len(), 7);
    service.stop().await;
}

#[tokio::test]
async fn a_stream_that_breaks_off_or_ends_early_stores_nothing() {
    let service = TestSubmissions::start("2026-03-20").await;
    let review_id = service.review_with_agencies(&["police"]).await;
    let token = service.agency_token("police");

    // The connection is cut after 2,500 entries: more than one staging batch (500), so the
    // service has committed staged entries that must go with the broken stream.
    let (sender, receiver) = tokio::sync::mpsc::channel(3_000);
    sender
        .send(header("cut", &review_id, "police", 5_000))
        .await
        .expect("send");
    for index in 0..2_500 {
        sender
            .send(common::as_message(entry(index, "police", "2024-10-01")))
            .await
            .expect("send");
    }
    let mut client = service.client.clone();
    let call_token = token.clone();
    let call = tokio::spawn(async move {
        client
            .submit_agency_report(authed(
                tokio_stream::wrappers::ReceiverStream::new(receiver),
                &call_token,
            ))
            .await
    });
    cspr_platform::testing::wait_until(
        "staged batches committed",
        cspr_platform::testing::DEADLINE,
        || async { common::staged(&service).await.1 >= 2_000 },
    )
    .await;
    call.abort();
    drop(sender);
    wait_for_writers_to_finish(&service).await;

    // The stream ends cleanly but early: 500 of the 1,000 announced.
    let mut client = service.client.clone();
    let entries: Vec<_> = (0..500)
        .map(|index| entry(index, "police", "2024-10-01"))
        .collect();
    let refused = submit(
        &mut client,
        &token,
        header("early", &review_id, "police", 1_000),
        entries,
    )
    .await
    .invalid(&["header.entry_count"], "ended early");
    assert_says(&refused, "after 500 entries");

    // A header and nothing else, and a stream with no header at all.
    client
        .submit_agency_report(authed(
            tokio_stream::iter(Vec::<pb::SubmitAgencyReportRequest>::new()),
            &token,
        ))
        .await
        .invalid(&["header"], "no header");
    client
        .submit_agency_report(authed(
            tokio_stream::iter(vec![common::as_message(entry(0, "police", "2024-10-01"))]),
            &token,
        ))
        .await
        .invalid(&["header"], "entry first");

    wait_for_writers_to_finish(&service).await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM agency_reports")
        .fetch_one(service.store.pool())
        .await
        .expect("count");
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM chronology_entries")
        .fetch_one(service.store.pool())
        .await
        .expect("count");
    assert_eq!(
        (stored, entries),
        (0, 0),
        "nothing of the broken streams remains"
    );
    assert_eq!(
        common::staged(&service).await,
        (0, 0),
        "their stages are gone"
    );

    // A whole submission afterwards is version 1: no version was used up.
    let entries: Vec<_> = (0..10)
        .map(|index| entry(index, "police", "2024-10-01"))
        .collect();
    let receipt = submit(
        &mut client,
        &token,
        header("whole", &review_id, "police", 10),
        entries,
    )
    .await
    .expect("whole");
    assert_eq!((receipt.version, receipt.entry_count), (1, 10));
    service.stop().await;
}

/// Waits until the broken submissions have deleted their stages and no other session holds
/// a lock on the report tables (their transactions have ended, rolled back, or committed if
/// the code were wrong).
async fn wait_for_writers_to_finish(service: &TestSubmissions) {
    cspr_platform::testing::wait_until(
        "the broken submissions' stages deleted",
        cspr_platform::testing::DEADLINE,
        || async { common::staged(service).await == (0, 0) },
    )
    .await;
    cspr_platform::testing::wait_until(
        "the submission transactions to end",
        cspr_platform::testing::DEADLINE,
        || async {
            sqlx::query_scalar::<_, bool>(
                "SELECT NOT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                  WHERE c.relname IN ('agency_reports', 'chronology_entries')
                    AND l.pid <> pg_backend_pid())",
            )
            .fetch_one(service.store.pool())
            .await
            .unwrap_or(false)
        },
    )
    .await;
}

#[tokio::test]
async fn bad_entries_are_named_by_index_and_field() {
    let service = TestSubmissions::start("2026-03-20").await;
    let review_id = service.review_with_agencies(&["police"]).await;
    let mut client = service.client.clone();
    let token = service.agency_token("police");

    let mut entries: Vec<_> = (0..100)
        .map(|index| entry(index, "police", "2024-10-01"))
        .collect();
    entries[41].occurred_on = common::pdate("2026-03-10");
    submit(
        &mut client,
        &token,
        header("outside", &review_id, "police", 100),
        entries,
    )
    .await
    .invalid(&["entries[41].occurred_on"], "outside scope");

    let mut entries: Vec<_> = (0..5)
        .map(|index| entry(index, "police", "2024-10-01"))
        .collect();
    entries[3].description = String::new();
    entries[3].time_of_day = "9am".into();
    submit(
        &mut client,
        &token,
        header("missing", &review_id, "police", 5),
        entries,
    )
    .await
    .invalid(
        &["entries[3].time_of_day", "entries[3].description"],
        "missing",
    );

    let mut bad_header = header("", "not-a-review", "Police", -1);
    if let Some(pb::submit_agency_report_request::Item::Header(header)) = &mut bad_header.item {
        header.narrative = None;
    }
    submit(&mut client, &token, bad_header, vec![])
        .await
        .invalid(
            &[
                "header.request_id",
                "header.review_id",
                "header.agency_id",
                "header.entry_count",
                "header.narrative.summary",
                "header.narrative.analysis_of_involvement",
                "header.narrative.learning",
            ],
            "bad header",
        );

    let unknown = uuid::Uuid::now_v7().to_string();
    submit(
        &mut client,
        &token,
        header("unknown", &unknown, "police", 0),
        vec![],
    )
    .await
    .refused(Code::NotFound, "unknown review");

    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM agency_reports")
        .fetch_one(service.store.pool())
        .await
        .expect("count");
    assert_eq!(stored, 0);
    service.stop().await;
}

#[tokio::test]
async fn agencies_see_and_submit_only_their_own() {
    let service = TestSubmissions::start("2026-03-20").await;
    let review_id = service.review_with_agencies(&["police", "gp"]).await;
    let mut client = service.client.clone();
    let police = service.agency_token("police");
    let gp = service.agency_token("gp");
    let entries: Vec<_> = (0..3)
        .map(|index| entry(index, "police", "2024-10-01"))
        .collect();
    submit(
        &mut client,
        &police,
        header("p1", &review_id, "police", 3),
        entries.clone(),
    )
    .await
    .expect("police submits");

    submit(
        &mut client,
        &gp,
        header("g1", &review_id, "police", 3),
        entries,
    )
    .await
    .refused(Code::PermissionDenied, "gp as police");
    let refused = client
        .get_agency_report(authed(
            pb::GetAgencyReportRequest {
                review_id: review_id.clone(),
                agency_id: "police".into(),
                version: 0,
            },
            &gp,
        ))
        .await
        .refused(Code::NotFound, "gp reads police");
    // Said as a person reads it, not "no report was requested … for this review not found".
    assert_eq!(
        refused.message(),
        "report request of agency police in this review not found"
    );
    let own = client
        .list_agency_reports(authed(
            pb::ListAgencyReportsRequest {
                review_id: review_id.clone(),
                ..Default::default()
            },
            &gp,
        ))
        .await
        .reply("list");
    assert!(own.reports.is_empty(), "gp sees no other agency's report");
    chronology(&mut client, &gp, &review_id, true)
        .await
        .refused(
            Code::PermissionDenied,
            "agencies do not read the combined chronology",
        );
    let requests = client
        .list_report_requests(authed(
            pb::ListReportRequestsRequest {
                review_id: review_id.clone(),
                ..Default::default()
            },
            &gp,
        ))
        .await
        .reply("own requests");
    assert_eq!(requests.report_requests.len(), 1);
    assert_eq!(requests.report_requests[0].agency_id, "gp");

    let read = client
        .get_agency_report(authed(
            pb::GetAgencyReportRequest {
                review_id: review_id.clone(),
                agency_id: "police".into(),
                version: 0,
            },
            &police,
        ))
        .await
        .reply("police reads its own");
    assert_eq!(read.entry_count, 3);

    let elsewhere = service.token_elsewhere("agency", Some("police"));
    client
        .get_agency_report(authed(
            pb::GetAgencyReportRequest {
                review_id: review_id.clone(),
                agency_id: "police".into(),
                version: 0,
            },
            &elsewhere,
        ))
        .await
        .refused(Code::NotFound, "another partnership");
    let member = service.role_token("panel_member");
    client
        .accept_agency_report(authed(
            pb::AcceptAgencyReportRequest {
                review_id: review_id.clone(),
                agency_id: "police".into(),
                version: 1,
            },
            &member,
        ))
        .await
        .refused(Code::PermissionDenied, "members do not decide");
    let trail = service.audit_trail(&review_id, 100).await;
    assert!(
        trail
            .iter()
            .any(|record| record.action == "GetAgencyReport" && record.outcome == "ok")
    );
    assert!(
        trail
            .iter()
            .any(|record| record.action == "GetAgencyReport" && record.outcome == "NOT_FOUND")
    );
    service.stop().await;
}

#[tokio::test]
async fn retries_return_the_same_receipt() {
    let service = TestSubmissions::start("2026-03-20").await;
    let review_id = service.review_with_agencies(&["police"]).await;
    let mut client = service.client.clone();
    let token = service.agency_token("police");
    let entries: Vec<_> = (0..50)
        .map(|index| entry(index, "police", "2024-10-01"))
        .collect();

    let first = submit(
        &mut client,
        &token,
        header("same", &review_id, "police", 50),
        entries.clone(),
    )
    .await
    .expect("first");
    let retry = submit(
        &mut client,
        &token,
        header("same", &review_id, "police", 50),
        entries.clone(),
    )
    .await
    .expect("retry");
    assert_eq!(first, retry);
    let mut changed = entries.clone();
    changed[7].description = "Something else".into();
    submit(
        &mut client,
        &token,
        header("same", &review_id, "police", 50),
        changed.clone(),
    )
    .await
    .refused(Code::AlreadyExists, "conflict");
    let second = submit(
        &mut client,
        &token,
        header("again", &review_id, "police", 50),
        changed,
    )
    .await
    .expect("resubmission");
    assert_eq!(second.version, 2);
    assert_ne!(second.content_hash, first.content_hash);
    let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM chronology_entries")
        .fetch_one(service.store.pool())
        .await
        .expect("count");
    assert_eq!(entries, 100, "two versions stored, the retry added nothing");
    service.stop().await;
}

#[tokio::test]
async fn terms_of_reference_redelivered_create_no_duplicate_requests() {
    let service = TestSubmissions::start("2026-03-20").await;
    let review_id = uuid::Uuid::now_v7().to_string();
    let terms = service
        .registry_event(&review_id, common::terms(&["police", "gp"]))
        .await;
    assert_eq!(service.request_count(&review_id).await, 2);

    // The same event delivered again (another message id gets past JetStream's dedupe).
    service.redeliver(&terms).await;
    // A revision of the terms with the same agencies and a new due date.
    let mut revised = common::terms(&["police", "gp", "school"]);
    if let cspr_proto::events::v1::event::Body::TermsOfReferenceSet(terms) = &mut revised {
        terms.version = 2;
        terms.report_due_date = common::pdate("2026-05-15");
    }
    service.registry_event(&review_id, revised).await;
    assert_eq!(service.request_count(&review_id).await, 3);

    let admin = service.role_token("partnership_admin");
    let mut client = service.client.clone();
    let requests = client
        .list_report_requests(authed(
            pb::ListReportRequestsRequest {
                review_id: review_id.clone(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .reply("list")
        .report_requests;
    let agencies: BTreeSet<_> = requests
        .iter()
        .map(|request| request.agency_id.as_str())
        .collect();
    assert_eq!(requests.len(), 3);
    assert_eq!(agencies, ["gp", "police", "school"].into_iter().collect());
    assert!(
        requests
            .iter()
            .all(|request| request.due_date == common::pdate("2026-05-15"))
    );
    let requested = service
        .published_types(5)
        .await
        .iter()
        .filter(|kind| *kind == "agency_report_requested")
        .count();
    assert_eq!(
        requested, 5,
        "two first requests, then three for the revised due date; none for the redelivery"
    );
    service.stop().await;
}

#[tokio::test]
async fn the_combined_chronology_merges_agencies_in_date_order() {
    // 1,400 entries: more than one fetch from the store's cursor.
    let service = TestSubmissions::start("2026-03-20").await;
    let review_id = service.review_with_agencies(&["police", "gp"]).await;
    let mut client = service.client.clone();
    let police: Vec<_> = (0..700)
        .map(|index| entry(index * 2, "police", "2024-10-01"))
        .collect();
    let gp: Vec<_> = (0..700)
        .map(|index| entry(index * 2 + 1, "gp", "2024-10-01"))
        .collect();
    submit(
        &mut client,
        &service.agency_token("police"),
        header("p", &review_id, "police", 700),
        police,
    )
    .await
    .expect("police");
    submit(
        &mut client,
        &service.agency_token("gp"),
        header("g", &review_id, "gp", 700),
        gp,
    )
    .await
    .expect("gp");
    let chair = service.role_token("panel_chair");
    client
        .accept_agency_report(authed(
            pb::AcceptAgencyReportRequest {
                review_id: review_id.clone(),
                agency_id: "police".into(),
                version: 1,
            },
            &chair,
        ))
        .await
        .expect("accepted");

    let accepted = chronology(&mut client, &chair, &review_id, false)
        .await
        .expect("accepted only");
    assert_eq!(accepted.len(), 700);
    assert!(accepted.iter().all(|entry| entry.agency_id == "police"));
    let all = chronology(&mut client, &chair, &review_id, true)
        .await
        .expect("with pending");
    assert_eq!(all.len(), 1_400);
    let dates: Vec<_> = all
        .iter()
        .map(|entry| {
            entry
                .entry
                .as_ref()
                .and_then(|entry| entry.occurred_on)
                .map(|date| (date.year, date.month, date.day))
        })
        .collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted, "in date order");
    let agencies: BTreeSet<_> = all.iter().map(|entry| entry.agency_id.as_str()).collect();
    assert_eq!(
        agencies.len(),
        2,
        "both agencies, each entry with its agency"
    );
    // A page's worth: the stream ends by itself after the first 301, in the same order.
    let first = chronology_limited(&mut client, &chair, &review_id, true, 301)
        .await
        .expect("limited");
    assert_eq!(first.len(), 301);
    assert_eq!(
        first,
        all[..301],
        "the first entries of the same chronology"
    );
    let refused = chronology_limited(&mut client, &chair, &review_id, true, -1)
        .await
        .expect_err("a negative limit");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    service.stop().await;
}

#[tokio::test]
async fn panel_decisions_follow_their_rules() {
    let service = TestSubmissions::start("2026-03-20").await;
    let review_id = service
        .review_with_agencies(&["police", "gp", "school"])
        .await;
    let mut client = service.client.clone();
    let chair = service.role_token("panel_chair");
    let police = service.agency_token("police");
    let entries: Vec<_> = (0..5)
        .map(|index| entry(index, "police", "2024-10-01"))
        .collect();

    client
        .accept_agency_report(authed(
            pb::AcceptAgencyReportRequest {
                review_id: review_id.clone(),
                agency_id: "police".into(),
                version: 1,
            },
            &chair,
        ))
        .await
        .refused(Code::FailedPrecondition, "nothing submitted");

    submit(
        &mut client,
        &police,
        header("v1", &review_id, "police", 5),
        entries.clone(),
    )
    .await
    .expect("v1");
    let returned = client
        .return_agency_report(authed(
            pb::ReturnAgencyReportRequest {
                review_id: review_id.clone(),
                agency_id: "police".into(),
                version: 1,
                missing: "Entries for 2025 are missing.".into(),
            },
            &chair,
        ))
        .await
        .reply("returned");
    assert_eq!(returned.status, pb::ReportStatus::Returned as i32);
    assert_eq!(returned.decision_note, "Entries for 2025 are missing.");
    let receipt = submit(
        &mut client,
        &police,
        header("v2", &review_id, "police", 5),
        entries,
    )
    .await
    .expect("v2");
    assert_eq!(receipt.version, 2);
    client
        .accept_agency_report(authed(
            pb::AcceptAgencyReportRequest {
                review_id: review_id.clone(),
                agency_id: "police".into(),
                version: 1,
            },
            &chair,
        ))
        .await
        .refused(Code::FailedPrecondition, "not the latest");
    client
        .accept_agency_report(authed(
            pb::AcceptAgencyReportRequest {
                review_id: review_id.clone(),
                agency_id: "police".into(),
                version: 2,
            },
            &chair,
        ))
        .await
        .expect("accepted");
    let admin = service.role_token("partnership_admin");
    let waived = client
        .waive_agency_report(authed(
            pb::WaiveAgencyReportRequest {
                review_id: review_id.clone(),
                agency_id: "gp".into(),
                reason: "No contact with the family in the scope period.".into(),
            },
            &admin,
        ))
        .await
        .reply("waived");
    assert_eq!(waived.status, pb::ReportStatus::Waived as i32);
    submit(
        &mut client,
        &service.agency_token("gp"),
        header("late", &review_id, "gp", 0),
        vec![],
    )
    .await
    .refused(Code::FailedPrecondition, "waived");
    client
        .waive_agency_report(authed(
            pb::WaiveAgencyReportRequest {
                review_id: review_id.clone(),
                agency_id: "school".into(),
                reason: String::new(),
            },
            &admin,
        ))
        .await
        .invalid(&["reason"], "reason required");

    let types: Vec<String> = service
        .published_types(8)
        .await
        .into_iter()
        .filter(|kind| kind != "agency_report_requested")
        .collect();
    assert_eq!(
        types,
        [
            "agency_report_submitted",
            "agency_report_returned",
            "agency_report_submitted",
            "agency_report_accepted",
            "agency_report_waived"
        ]
    );
    service.stop().await;
}

#[tokio::test]
async fn reminders_are_raised_once_across_replicas() {
    let service = TestSubmissions::start("2026-04-20").await;
    let review_id = service.review_with_agencies(&["police", "gp"]).await;
    let mut client = service.client.clone();
    submit(
        &mut client,
        &service.agency_token("gp"),
        header("g", &review_id, "gp", 0),
        vec![],
    )
    .await
    .expect("gp submits");
    let first = cspr_submissions::jobs::ReminderSweep::new(
        ReportReminders {
            store: service.store.clone(),
            due_soon_days: 5,
        },
        Duration::from_secs(3600),
    );
    // A second replica's sweep: the same job on the same database.
    let second = first.clone();

    assert_eq!(
        first.sweep_once().await.expect("sweep"),
        0,
        "due 2026-05-01: not yet within 5 days"
    );
    service.clock.set_date(common::date("2026-04-27"));
    assert_eq!(
        swept_together(first.sweep_once(), second.sweep_once()).await,
        1,
        "due soon for police only (gp submitted)"
    );
    service.clock.set_date(common::date("2026-05-04"));
    assert_eq!(
        swept_together(first.sweep_once(), second.sweep_once()).await,
        1,
        "overdue once"
    );
    assert_eq!(first.sweep_once().await.expect("sweep"), 0);

    let reminders: Vec<String> = service
        .published_types(5)
        .await
        .into_iter()
        .filter(|kind| kind.starts_with("report_"))
        .collect();
    assert_eq!(reminders, ["report_due_soon", "report_overdue"]);
    service.stop().await;
}

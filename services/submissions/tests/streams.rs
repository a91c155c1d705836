//! Submission streams against real PostgreSQL and NATS: a stream waiting for its client holds
//! no database connection, transaction or lock, so other calls (the panel's on the same
//! agency, other partnerships') are answered meanwhile; each agency has at most a few streams
//! open; entries staged in several batches are stored once; stages of streams that ended
//! without a receipt are deleted, or swept when their process could not.

mod common;

use std::time::Duration;

use common::{
    Refusal, Reply, SubmissionsTest, TestSubmissions, assert_says, authed, entry, header, pdate,
    staged, submit,
};
use cspr_platform::clock::Clock;
use cspr_platform::testing::{DEADLINE, wait_until};
use cspr_proto::submissions::v1 as pb;
use cspr_submissions::config::SubmissionsConfig;
use cspr_submissions::jobs::{AbandonedStages, StageSweep};
use tokio::sync::mpsc::Sender;
use tokio::task::JoinHandle;
use tonic::Code;

/// How long a call may take and still count as answered promptly: well under the pool's
/// 3 s wait for a connection, after which a starved call is UNAVAILABLE.
const PROMPT: Duration = Duration::from_secs(2);

type Call = JoinHandle<Result<tonic::Response<pb::SubmissionReceipt>, tonic::Status>>;

/// A submission stream that sends `header` and one entry, then nothing until its sender is
/// dropped (the stream ends) or its call aborted (the client cancels).
fn silent_stream(
    service: &TestSubmissions,
    token: &str,
    header: pb::SubmitAgencyReportRequest,
) -> (Sender<pb::SubmitAgencyReportRequest>, Call) {
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let first = [header, common::as_message(entry(0, "police", "2024-10-01"))];
    for message in first {
        sender.try_send(message).expect("room for the first two");
    }
    let mut client = service.client.clone();
    let token = token.to_string();
    let call = tokio::spawn(async move {
        client
            .submit_agency_report(authed(
                tokio_stream::wrappers::ReceiverStream::new(receiver),
                &token,
            ))
            .await
    });
    (sender, call)
}

/// `call`, which must be answered within [`PROMPT`].
async fn promptly<T>(what: &str, call: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PROMPT, call).await {
        Ok(answer) => answer,
        Err(_) => panic!("{what}: no answer within {PROMPT:?}"),
    }
}

/// The stages of `agency_id`, read on the test's own connection (`probe`), so that a
/// service that starved its pool fails at the calls below, not in this probe.
async fn staged_of(probe: &sqlx::PgPool, agency_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM staged_submissions WHERE agency_id = $1")
        .bind(agency_id)
        .fetch_one(probe)
        .await
        .expect("staged of the agency")
}

#[tokio::test]
async fn silent_streams_hold_nothing_and_an_agency_has_at_most_four() {
    let service = TestSubmissions::start_with(
        "2026-03-20",
        SubmissionsConfig {
            max_streams_per_agency: 4,
            ..SubmissionsConfig::default()
        },
    )
    .await;
    // The harness's small pool: streams that each held a connection (a transaction) while
    // they waited would leave none for anyone else.
    assert_eq!(service.platform.database_max_connections, 5);
    let probe = sqlx::PgPool::connect(&service.context.service.database_url)
        .await
        .expect("the test's own connection");
    let review_id = service.review_with_agencies(&["police", "gp"]).await;
    let mut client = service.client.clone();
    let police = service.agency_token("police");
    let gp = service.agency_token("gp");
    submit(
        &mut client,
        &police,
        header("v1", &review_id, "police", 1),
        vec![entry(0, "police", "2024-10-01")],
    )
    .await
    .expect("police v1, for the panel to return meanwhile");

    // Twelve streams of police, each a header and an entry, then silence.
    let (police_senders, police_calls): (Vec<_>, Vec<_>) = (0..12)
        .map(|index| {
            silent_stream(
                &service,
                &police,
                header(&format!("silent-{index}"), &review_id, "police", 2),
            )
        })
        .unzip();
    wait_until("eight of the twelve refused", DEADLINE, || async {
        police_calls
            .iter()
            .filter(|call| call.is_finished())
            .count()
            >= 8
    })
    .await;
    let (refused, mut open): (Vec<Call>, Vec<Call>) = police_calls
        .into_iter()
        .partition(|call| call.is_finished());
    assert_eq!((refused.len(), open.len()), (8, 4));
    for call in refused {
        let status = call
            .await
            .expect("call task")
            .refused(Code::ResourceExhausted, "a fifth stream of one agency");
        assert_says(&status, "already has 4 SubmitAgencyReport streams open");
        assert_says(&status, "CSPR_SUBMISSIONS_MAX_STREAMS_PER_AGENCY");
    }
    // Another agency still streams.
    let (gp_senders, mut gp_calls): (Vec<_>, Vec<_>) = (0..4)
        .map(|index| {
            silent_stream(
                &service,
                &gp,
                header(&format!("gp-{index}"), &review_id, "gp", 2),
            )
        })
        .unzip();
    wait_until(
        "four streams of each agency staged (or one of them ended)",
        DEADLINE,
        || async {
            open.iter().chain(&gp_calls).any(|call| call.is_finished())
                || (staged_of(&probe, "police").await == 4 && staged_of(&probe, "gp").await == 4)
        },
    )
    .await;
    if let Some(ended) = open
        .iter_mut()
        .chain(gp_calls.iter_mut())
        .find(|call| call.is_finished())
    {
        panic!("a waiting stream ended: {:?}", ended.await);
    }

    // While eight streams wait: the partnership asks police again, the panel returns its
    // report (both lock police's request), and another partnership is answered.
    let admin = service.role_token("partnership_admin");
    let asked = promptly(
        "RequestAgencyReport for police",
        client.request_agency_report(authed(
            pb::RequestAgencyReportRequest {
                review_id: review_id.clone(),
                agency_id: "police".into(),
                agency_name: "Southvale police".into(),
                contact_email: "safeguarding.lead@police.southvale.example.org".into(),
                due_date: pdate("2026-06-01"),
            },
            &admin,
        )),
    )
    .await
    .reply("asked again");
    assert_eq!(asked.due_date, pdate("2026-06-01"));
    let returned = promptly(
        "ReturnAgencyReport for police",
        client.return_agency_report(authed(
            pb::ReturnAgencyReportRequest {
                review_id: review_id.clone(),
                agency_id: "police".into(),
                version: 1,
                missing: "Entries for 2025.".into(),
            },
            &service.role_token("panel_chair"),
        )),
    )
    .await
    .reply("returned");
    assert_eq!(returned.status, pb::ReportStatus::Returned as i32);
    let elsewhere = promptly(
        "another partnership's call",
        client.list_report_requests(authed(
            pb::ListReportRequestsRequest {
                agency_id: "police".into(),
                ..Default::default()
            },
            &service.token_elsewhere("partnership_admin", None),
        )),
    )
    .await
    .reply("another partnership is answered");
    assert!(elsewhere.report_requests.is_empty());

    // Police's clients cancel; gp's end their streams early.
    for call in &open {
        call.abort();
    }
    drop(police_senders);
    drop(gp_senders);
    for call in gp_calls {
        let status = call
            .await
            .expect("call task")
            .invalid(&["header.entry_count"], "ended after one entry");
        assert_says(&status, "after 1 entries");
    }
    wait_until("every stage deleted", DEADLINE, || async {
        staged(&service).await == (0, 0)
    })
    .await;
    for call in open.drain(..) {
        assert!(call.await.is_err_and(|error| error.is_cancelled()));
    }
    let reports: i64 = sqlx::query_scalar("SELECT count(*) FROM agency_reports")
        .fetch_one(service.store.pool())
        .await
        .expect("count");
    assert_eq!(reports, 1, "only v1: nothing of the silent streams");

    // Their places are given back: police streams again.
    let receipt = service
        .eventually("police streams again", || {
            let mut client = service.client.clone();
            let police = police.clone();
            let review_id = review_id.clone();
            async move {
                match submit(
                    &mut client,
                    &police,
                    header("v2", &review_id, "police", 1),
                    vec![entry(0, "police", "2024-10-01")],
                )
                .await
                {
                    Ok(receipt) => Some(receipt),
                    Err(status) if status.code() == Code::ResourceExhausted => None,
                    Err(status) => panic!("v2: {status:?}"),
                }
            }
        })
        .await;
    assert_eq!(receipt.version, 2);
    probe.close().await;
    service.stop().await;
}

#[tokio::test]
async fn a_report_of_several_batches_is_stored_once_and_replayed() {
    let service = TestSubmissions::start("2026-03-20").await;
    let review_id = service.review_with_agencies(&["police"]).await;
    let mut client = service.client.clone();
    let token = service.agency_token("police");
    // 1,234 entries: two full staging batches (500) and a part.
    let entries: Vec<_> = (0..1_234)
        .map(|index| entry(index, "police", "2024-10-01"))
        .collect();

    let first = submit(
        &mut client,
        &token,
        header("batches", &review_id, "police", 1_234),
        entries.clone(),
    )
    .await
    .expect("stored");
    let replay = submit(
        &mut client,
        &token,
        header("batches", &review_id, "police", 1_234),
        entries,
    )
    .await
    .expect("replayed");

    assert_eq!((first.version, first.entry_count), (1, 1_234));
    assert_eq!(replay, first, "the replay returns the first receipt");
    let (count, distinct, lowest, highest): (i64, i64, i32, i32) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM chronology_entries",
    )
    .fetch_one(service.store.pool())
    .await
    .expect("entries");
    assert_eq!((count, distinct, lowest, highest), (1_234, 1_234, 1, 1_234));
    let reports: i64 = sqlx::query_scalar("SELECT count(*) FROM agency_reports")
        .fetch_one(service.store.pool())
        .await
        .expect("count");
    assert_eq!(reports, 1);
    assert_eq!(staged(&service).await, (0, 0), "no stage left behind");
    service.stop().await;
}

#[tokio::test]
async fn abandoned_stages_are_swept_and_a_swept_stream_stores_nothing() {
    let service = TestSubmissions::start("2026-03-20").await;
    let review_id = service.review_with_agencies(&["police"]).await;
    let token = service.agency_token("police");
    let review = uuid::Uuid::parse_str(&review_id).expect("review id");
    // What a replica that died mid-stream leaves: a stage with a batch of entries.
    let abandoned = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO staged_submissions (stage_id, partnership_id, review_id, agency_id, started_at, touched_at)
         VALUES ($1, $2, $3, 'police', $4, $4)",
    )
    .bind(abandoned)
    .bind(common::PARTNERSHIP)
    .bind(review)
    .bind(service.clock.now())
    .execute(service.store.pool())
    .await
    .expect("abandoned stage");
    sqlx::query(
        "INSERT INTO staged_entries (stage_id, seq, occurred_on, time_of_day, service, practitioner_name,
             practitioner_role, description, outcome)
         SELECT $1, seq, DATE '2024-10-01', '', 'Contact', '', '', 'Visited.', 'None'
         FROM generate_series(1, 500) AS seq",
    )
    .bind(abandoned)
    .execute(service.store.pool())
    .await
    .expect("its entries");
    // A live stream: 600 of 700 entries sent (one batch staged), then it waits.
    let (sender, receiver) = tokio::sync::mpsc::channel(800);
    sender
        .send(header("live", &review_id, "police", 700))
        .await
        .expect("send");
    for index in 0..600 {
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
    wait_until("the live stream's batch staged", DEADLINE, || async {
        staged(&service).await == (2, 1_000)
    })
    .await;
    let sweep = StageSweep::new(
        AbandonedStages {
            store: service.store.clone(),
            max_age: Duration::from_secs(3600),
        },
        Duration::from_secs(3600),
    );

    assert_eq!(sweep.sweep_once().await.expect("sweep"), 0, "both fresh");
    // A day later by the service's clock both are past the age: the live stream's too.
    service.clock.set_date(common::date("2026-03-21"));
    assert_eq!(sweep.sweep_once().await.expect("sweep"), 2);
    assert_eq!(staged(&service).await, (0, 0));

    // The swept stream goes on and ends: it is refused, and nothing of it is stored.
    for index in 600..700 {
        sender
            .send(common::as_message(entry(index, "police", "2024-10-01")))
            .await
            .expect("send");
    }
    drop(sender);
    let status = call
        .await
        .expect("call task")
        .refused(Code::FailedPrecondition, "its stage was swept");
    assert_says(&status, "nothing was stored");
    let stored: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM agency_reports), (SELECT count(*) FROM chronology_entries)",
    )
    .fetch_one(service.store.pool())
    .await
    .expect("stored");
    assert_eq!(stored, (0, 0));
    assert_eq!(staged(&service).await, (0, 0));
    service.stop().await;
}

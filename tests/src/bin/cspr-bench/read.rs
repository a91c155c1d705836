//! read: GetReview and a ListReviews page beside a bare tonic echo.

use std::sync::Arc;

use cspr_platform::testing::authed;
use cspr_proto::registry::v1 as registry;
use cspr_proto::registry::v1::review_registry_client::ReviewRegistryClient;
use cspr_tests::Stack;
use prost::Message as _;

use crate::common::{
    Services, channels, drive, echo_ceiling, seed_reviews, spawn_echo, wait_for_quiet_bus,
};
use crate::{CONCURRENCY, Latency, Row, Size, verdict};

/// GetReview and a ListReviews page at concurrency 64, each beside the echo ceiling.
pub(crate) async fn read(stack: &Stack, size: Size) -> anyhow::Result<Vec<Row>> {
    let admin = stack.token("southvale", &["partnership_admin"], None, "bench");
    eprintln!("read: seeding {} reviews…", size.reviews);
    let ids = Arc::new(seed_reviews(&Services::of(stack), &admin, "read", size.reviews).await?);
    wait_for_quiet_bus(&stack.platform.subject_prefix).await?;
    let registry_channels = channels(stack.registry.addr).await?;
    let (echo_addr, echo_server) = spawn_echo().await?;
    let echo_channels = channels(echo_addr).await?;

    // The payload sizes the echo must match.
    let mut client = ReviewRegistryClient::new(registry_channels[0].clone());
    let sample_get = registry::GetReviewRequest {
        review_id: ids[0].clone(),
    };
    let sample_review = client
        .get_review(authed(sample_get.clone(), &admin))
        .await?
        .into_inner();
    let sample_list = registry::ListReviewsRequest {
        page_size: 50,
        ..Default::default()
    };
    let sample_page = client
        .list_reviews(authed(sample_list.clone(), &admin))
        .await?
        .into_inner();

    let mut rows = Vec::new();
    eprintln!("read: GetReview at concurrency {CONCURRENCY}…");
    let token = admin.clone();
    let get_ids = ids.clone();
    let (rate, histogram) = drive(&registry_channels, size, CONCURRENCY, move |channel, n| {
        let request = authed(
            registry::GetReviewRequest {
                review_id: get_ids[n % get_ids.len()].clone(),
            },
            &token,
        );
        async move {
            ReviewRegistryClient::new(channel)
                .get_review(request)
                .await?;
            Ok(())
        }
    })
    .await?;
    eprintln!("read: echo ceiling for GetReview's sizes…");
    let (ceiling, ceiling_histogram) = echo_ceiling(
        &echo_channels,
        size,
        sample_get.encoded_len(),
        sample_review.encoded_len(),
    )
    .await?;
    rows.push(Row {
        scenario: "read",
        measure: "GetReview".into(),
        unit: "req/s",
        rate,
        ceiling: Some(ceiling),
        latency: Some(Latency::of(&histogram)),
        ceiling_latency: Some(Latency::of(&ceiling_histogram)),
        target: verdict(
            "≥ 0.5, p99 < 10 ms",
            rate / ceiling >= 0.5 && Latency::of(&histogram).p99 < 10.0,
        ),
        note: format!(
            "ceiling: bare tonic echo, {} B request / {} B reply",
            sample_get.encoded_len(),
            sample_review.encoded_len()
        ),
    });

    eprintln!("read: ListReviews (first page of 50) at concurrency {CONCURRENCY}…");
    let token = admin.clone();
    let (rate, histogram) = drive(&registry_channels, size, CONCURRENCY, move |channel, _| {
        let request = authed(
            registry::ListReviewsRequest {
                page_size: 50,
                ..Default::default()
            },
            &token,
        );
        async move {
            ReviewRegistryClient::new(channel)
                .list_reviews(request)
                .await?;
            Ok(())
        }
    })
    .await?;
    eprintln!("read: echo ceiling for ListReviews' sizes…");
    let (ceiling, ceiling_histogram) = echo_ceiling(
        &echo_channels,
        size,
        sample_list.encoded_len(),
        sample_page.encoded_len(),
    )
    .await?;
    rows.push(Row {
        scenario: "read",
        measure: format!("ListReviews page ({} reviews)", sample_page.reviews.len()),
        unit: "req/s",
        rate,
        ceiling: Some(ceiling),
        latency: Some(Latency::of(&histogram)),
        ceiling_latency: Some(Latency::of(&ceiling_histogram)),
        target: "(none)".into(),
        note: format!(
            "ceiling: bare tonic echo, {} B request / {} B reply",
            sample_list.encoded_len(),
            sample_page.encoded_len()
        ),
    });
    echo_server.abort();
    Ok(rows)
}

//! The platform's gRPC server as a client, an attacker and an orchestrator meet it:
//! connections that never speak HTTP/2 or never make a call are closed, a peer that stops
//! answering PINGs too, one connection opens only so many streams at once; shutdown keeps
//! answering NOT_SERVING through its drain and ends within its grace period however long a
//! client holds a stream open; a message over the size limit is RESOURCE_EXHAUSTED.

use std::net::SocketAddr;
use std::time::Duration;

use cspr_platform::testing::{self, echo_service as start, stop_echo_service as stop};
use cspr_proto::bench::v1::EchoRequest;
use cspr_proto::bench::v1::echo_client::EchoClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tonic::Streaming;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// What a client sends first on an HTTP/2 connection (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame: length 0, type 0x4, no flags, stream 0.
const EMPTY_SETTINGS: [u8; 9] = [0, 0, 0, 0x4, 0, 0, 0, 0, 0];
/// The acknowledgement of the server's SETTINGS (flag ACK).
const SETTINGS_ACK: [u8; 9] = [0, 0, 0, 0x4, 0x1, 0, 0, 0, 0];
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
/// SETTINGS_MAX_CONCURRENT_STREAMS.
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
/// Slack for a loaded machine on top of a timeout under test.
const SLACK: Duration = Duration::from_secs(3);

/// Reads from `stream` until the server closes it (end of file or a reset), discarding
/// what comes, and returns the frame types it read if the stream was HTTP/2; panics after
/// `deadline`.
async fn read_until_closed(stream: &mut TcpStream, deadline: Instant, what: &str) -> Vec<u8> {
    let mut frames = Vec::new();
    loop {
        let mut header = [0u8; 9];
        match tokio::time::timeout_at(deadline, stream.read_exact(&mut header)).await {
            Err(_) => panic!("{what}: still open"),
            Ok(Err(_)) => return frames,
            Ok(Ok(_)) => {}
        }
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        frames.push(header[3]);
        let mut payload = vec![0u8; length];
        match tokio::time::timeout_at(deadline, stream.read_exact(&mut payload)).await {
            Err(_) => panic!("{what}: still open"),
            Ok(Err(_)) => return frames,
            Ok(Ok(_)) => {}
        }
    }
}

/// A health Watch stream on `channel` (which a client holds open as long as it runs), its
/// first status read: SERVING.
async fn watching(channel: Channel) -> Streaming<HealthCheckResponse> {
    let mut watch = HealthClient::new(channel)
        .watch(HealthCheckRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let first = watch.next().await.expect("a status").expect("ok");
    assert_eq!(first.status, ServingStatus::Serving as i32);
    watch
}

/// A raw TCP connection that has sent the preface and its SETTINGS, and read the server's.
async fn handshaken(addr: SocketAddr) -> (TcpStream, Vec<(u16, u32)>) {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(PREFACE).await.expect("preface");
    stream.write_all(&EMPTY_SETTINGS).await.expect("settings");
    let mut header = [0u8; 9];
    stream.read_exact(&mut header).await.expect("a frame");
    assert_eq!(header[3], SETTINGS, "the server's first frame is SETTINGS");
    let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let mut payload = vec![0u8; length];
    stream.read_exact(&mut payload).await.expect("settings");
    let settings = payload
        .chunks_exact(6)
        .map(|entry| {
            (
                u16::from_be_bytes([entry[0], entry[1]]),
                u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]),
            )
        })
        .collect();
    stream.write_all(&SETTINGS_ACK).await.expect("ack");
    (stream, settings)
}

#[tokio::test]
async fn connections_that_never_send_the_http2_preface_are_closed_after_the_handshake_timeout() {
    // Arrange: a handshake timeout of 1 s.
    const HANDSHAKE: Duration = Duration::from_secs(1);
    let (setup, running) = start(|platform| {
        platform.connections.handshake_timeout = HANDSHAKE;
    })
    .await;

    // Act: 50 connections that send nothing, and one that sends half the preface.
    let opened = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(running.addr).await.expect("connects"));
    }
    let mut halfway = TcpStream::connect(running.addr).await.expect("connects");
    halfway.write_all(&PREFACE[..12]).await.expect("written");

    // Assert: the server closes every one after the timeout, and serves a real client
    // meanwhile.
    let mut health = HealthClient::new(testing::channel(running.addr).await);
    let serving = health
        .check(HealthCheckRequest::default())
        .await
        .expect("health")
        .into_inner();
    assert_eq!(serving.status, ServingStatus::Serving as i32);
    let deadline = opened + HANDSHAKE + SLACK;
    for (index, stream) in silent.iter_mut().chain([&mut halfway]).enumerate() {
        let frames = read_until_closed(stream, deadline, &format!("connection {index}")).await;
        assert!(
            frames.iter().all(|frame| *frame == SETTINGS),
            "the server's SETTINGS, then the close: {frames:?}"
        );
    }
    assert!(
        opened.elapsed() >= HANDSHAKE,
        "closed after {:?}, before the handshake timeout",
        opened.elapsed()
    );

    stop(setup, running).await;
}

#[tokio::test]
async fn a_connection_without_calls_is_closed_after_the_idle_timeout_one_with_a_call_is_not() {
    // Arrange: an idle timeout of 1 s; a client holding a Watch stream open.
    const IDLE: Duration = Duration::from_secs(1);
    let (setup, running) = start(|platform| {
        platform.connections.idle_timeout = IDLE;
    })
    .await;
    let channel = testing::channel(running.addr).await;
    let mut watch = watching(channel.clone()).await;

    // Act: an HTTP/2 connection that makes no call.
    let opened = Instant::now();
    let (mut idle, _) = handshaken(running.addr).await;

    // Assert: it is closed after the timeout; the Watch stream, on a connection older than
    // it, goes on, and a call on its connection is answered.
    read_until_closed(&mut idle, opened + IDLE + SLACK, "the idle connection").await;
    assert!(
        opened.elapsed() >= IDLE,
        "closed after {:?}",
        opened.elapsed()
    );
    testing::assert_watch_kept(&mut watch, channel).await;

    drop(watch);
    stop(setup, running).await;
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_closed_and_streams_per_connection_are_capped() {
    // Arrange: a PING after 1 s of silence, answered within 1 s; 7 streams per connection.
    let (setup, running) = start(|platform| {
        platform.connections.keepalive_interval = Duration::from_secs(1);
        platform.connections.keepalive_timeout = Duration::from_secs(1);
        platform.connections.max_concurrent_streams = 7;
    })
    .await;

    // Act: an HTTP/2 handshake, then silence (no PING answered).
    let opened = Instant::now();
    let (mut peer, settings) = handshaken(running.addr).await;

    // Assert: the server advertised the cap, pinged, and closed the connection.
    assert!(
        settings.contains(&(MAX_CONCURRENT_STREAMS, 7)),
        "SETTINGS_MAX_CONCURRENT_STREAMS 7 in {settings:?}"
    );
    let frames = read_until_closed(
        &mut peer,
        opened + Duration::from_secs(2) + SLACK,
        "the silent peer",
    )
    .await;
    assert!(frames.contains(&PING), "pinged: frame types {frames:?}");

    stop(setup, running).await;
}

#[tokio::test]
async fn shutdown_serves_not_serving_through_the_drain_and_cuts_off_a_watch_at_the_grace_period() {
    // Arrange: a drain of 1 s within a grace period of 3 s; a client holding a Watch open.
    const DRAIN: Duration = Duration::from_secs(1);
    const GRACE: Duration = Duration::from_secs(3);
    let (setup, running) = start(|platform| {
        platform.shutdown_drain = DRAIN;
        platform.shutdown_grace = GRACE;
    })
    .await;
    let addr = running.addr;
    let mut watch = watching(testing::channel(addr).await).await;

    // Act: shutdown.
    let asked = Instant::now();
    setup.shutdown.cancel();
    let stopped = tokio::spawn(async move {
        running.stopped().await.expect("stops");
        Instant::now()
    });

    // Assert: a probe on a new connection during the drain is answered NOT_SERVING, and an
    // echo call is still served; the Watch hears NOT_SERVING, then is cut off at the end of
    // the grace period, when the service has stopped.
    let probe = HealthClient::new(testing::channel(addr).await)
        .check(HealthCheckRequest::default())
        .await
        .expect("answered during the drain")
        .into_inner();
    assert_eq!(probe.status, ServingStatus::NotServing as i32);
    let token = testing::token(&setup.platform, "southvale", &["operations"], None, "ops");
    EchoClient::new(testing::channel(addr).await)
        .echo(testing::authed(
            EchoRequest {
                padding: Vec::new(),
                reply_bytes: 8,
            },
            &token,
        ))
        .await
        .expect("served during the drain");
    assert!(asked.elapsed() < DRAIN, "probed within the drain");
    let next = watch.next().await.expect("a status").expect("ok");
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    let ended = tokio::time::timeout(GRACE + SLACK, watch.next())
        .await
        .expect("the Watch ends");
    assert!(
        matches!(ended, Some(Err(_))),
        "the Watch is cut off: {ended:?}"
    );
    let stopped_at = tokio::time::timeout(GRACE + SLACK, stopped)
        .await
        .expect("stopped within the grace period")
        .expect("joined");
    let took = stopped_at - asked;
    assert!(
        took >= GRACE && took <= GRACE + Duration::from_secs(1),
        "stopped {took:?} after shutdown was asked"
    );
}

#[tokio::test]
async fn a_message_over_the_limit_either_way_is_resource_exhausted() {
    // Arrange: a limit of 4 KiB.
    let (setup, running) = start(|platform| platform.max_message_bytes = 4 * 1024).await;
    let mut echo = EchoClient::new(testing::channel(running.addr).await);
    let token = testing::token(&setup.platform, "southvale", &["operations"], None, "ops");
    let call = |padding: usize, reply_bytes: u32| {
        testing::authed(
            EchoRequest {
                padding: vec![0; padding],
                reply_bytes,
            },
            &token,
        )
    };

    // Act: a request of 8 KiB; a request for a reply of 8 KiB; one inside the limit.
    let oversized_request = echo.echo(call(8 * 1024, 1)).await.expect_err("refused");
    let oversized_reply = echo.echo(call(1, 8 * 1024)).await.expect_err("refused");
    let small = echo.echo(call(1024, 1024)).await;

    // Assert
    for (status, way) in [
        (&oversized_request, "decoded"),
        (&oversized_reply, "encoded"),
    ] {
        assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
        assert!(
            status
                .message()
                .contains(&format!("{way} message length too large")),
            "{status:?}"
        );
    }
    assert_eq!(
        small.expect("inside the limit").into_inner().payload.len(),
        1024
    );

    stop(setup, running).await;
}

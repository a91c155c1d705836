//! gRPC over TLS with certificates the test makes (its own CA, a server certificate for
//! 127.0.0.1, agency client certificates): a client trusting the CA is answered, a plaintext
//! one or one trusting another CA is not; the connection timeouts hold over TLS; with mutual
//! TLS an agency token must come with its own agency's certificate.

use std::sync::Arc;
use std::time::Duration;

use cspr_platform::server::RunningService;
use cspr_platform::testing::{
    self, PARTNERSHIP, TestPki, TestSetup, echo_service as start, stop_echo_service as stop,
};
use cspr_platform::tls::ClientTls;
use cspr_proto::bench::v1::EchoRequest;
use cspr_proto::bench::v1::echo_client::EchoClient;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::rustls;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// What a client sends first on an HTTP/2 connection (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame.
const EMPTY_SETTINGS: [u8; 9] = [0, 0, 0, 0x4, 0, 0, 0, 0, 0];
/// Slack for a loaded machine on top of a timeout under test.
const SLACK: Duration = Duration::from_secs(3);

/// A channel to the service at 127.0.0.1 with `tls`, or the connection error (the error's
/// whole chain, as text).
async fn connect(running: &RunningService, tls: &ClientTls) -> Result<Channel, String> {
    tls.endpoint(&format!("127.0.0.1:{}", running.port()))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|error| chain(&error))
}

fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// An echo call with `token` on `channel`.
async fn echo(channel: Channel, token: &str) -> Result<(), tonic::Status> {
    EchoClient::new(channel)
        .echo(testing::authed(
            EchoRequest {
                padding: Vec::new(),
                reply_bytes: 4,
            },
            token,
        ))
        .await
        .map(drop)
}

/// An echo call with `token` over a connection made with `tls`: the call's status, or
/// UNAVAILABLE when no connection could be made.
async fn echo_over(
    running: &RunningService,
    tls: &ClientTls,
    token: &str,
) -> Result<(), tonic::Status> {
    match connect(running, tls).await {
        Ok(channel) => echo(channel, token).await,
        Err(error) => Err(tonic::Status::unavailable(error)),
    }
}

/// The call never reached the service: the connection failed (at the handshake, or when
/// the server closed it), for a reason that says `cause`.
fn not_connected(outcome: Result<(), tonic::Status>, cause: &str) {
    let refused = outcome.expect_err("no answer");
    let transport = refused.code() == tonic::Code::Unavailable
        || (refused.code() == tonic::Code::Unknown && refused.message() == "transport error");
    assert!(
        transport,
        "a transport failure, not a service's answer: {refused:?}"
    );
    assert!(
        format!("{refused:?}").contains(cause),
        "{cause} in {refused:?}"
    );
}

fn agency_token(setup: &TestSetup, org: &str) -> String {
    testing::token(
        &setup.context.platform,
        PARTNERSHIP,
        &["agency"],
        Some(org),
        &format!("{org}-system"),
    )
}

fn staff_token(setup: &TestSetup) -> String {
    testing::token(
        &setup.context.platform,
        PARTNERSHIP,
        &["partnership_admin"],
        None,
        "admin",
    )
}

/// A raw TLS connection (trusting `pki`'s CA, offering `h2`), after its handshake.
async fn tls_connection(
    running: &RunningService,
    pki: &TestPki,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(pki.ca_file()).expect("ca");
    use rustls::pki_types::pem::PemObject;
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(&ca).expect("ca pem"))
        .expect("root");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(running.addr).await.expect("connects");
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("127.0.0.1".try_into().expect("name"), tcp)
        .await
        .expect("TLS handshake")
}

/// Reads until the server closes `stream`; panics if it is still open at `deadline`.
async fn read_until_closed(stream: &mut (impl AsyncRead + Unpin), deadline: Instant, what: &str) {
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => panic!("{what}: still open"),
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_service_served_with_tls_answers_only_clients_that_trust_its_ca() {
    // Arrange
    let pki = TestPki::new();
    let stranger = TestPki::named("another CA");
    let (setup, running) = start(|platform| platform.tls = Some(pki.server())).await;
    let token = staff_token(&setup);

    // Act
    let trusting = echo_over(&running, &pki.client(), &token).await;
    let plaintext = echo_over(&running, &ClientTls::default(), &token).await;
    let distrusting = connect(&running, &stranger.client()).await;

    // Assert: the trusting client is answered (health too); the plaintext one gets no
    // answer, and the one trusting another CA refuses the server's certificate.
    trusting.expect("answered over TLS");
    let health = HealthClient::new(connect(&running, &pki.client()).await.expect("connects"))
        .check(HealthCheckRequest::default())
        .await
        .expect("health")
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);
    not_connected(plaintext, "");
    let distrusted = distrusting.expect_err("the server's certificate is not trusted");
    assert!(
        distrusted.contains("invalid peer certificate"),
        "{distrusted}"
    );

    stop(setup, running).await;
}

#[tokio::test]
async fn over_tls_the_handshake_timeout_bounds_tls_and_preface_and_a_call_keeps_its_connection() {
    // Arrange: a handshake timeout of 1 s, an idle timeout of 4 s; a TLS client holding a
    // Watch stream open.
    const HANDSHAKE: Duration = Duration::from_secs(1);
    const IDLE: Duration = Duration::from_secs(4);
    let pki = TestPki::new();
    let (setup, running) = start(|platform| {
        platform.tls = Some(pki.server());
        platform.connections.handshake_timeout = HANDSHAKE;
        platform.connections.idle_timeout = IDLE;
    })
    .await;
    let channel = connect(&running, &pki.client()).await.expect("connects");
    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest::default())
        .await
        .expect("watch")
        .into_inner();
    watch.next().await.expect("a status").expect("ok");

    // Act: a TCP connection that sends nothing; a TLS connection that sends no HTTP/2
    // preface; one that sends the preface and SETTINGS but makes no call.
    let opened = Instant::now();
    let mut silent = TcpStream::connect(running.addr).await.expect("connects");
    let mut no_preface = tls_connection(&running, &pki).await;
    let mut no_call = tls_connection(&running, &pki).await;
    no_call.write_all(PREFACE).await.expect("preface");
    no_call.write_all(&EMPTY_SETTINGS).await.expect("settings");
    no_call.flush().await.expect("flushed");

    // Assert: the first two are closed after the handshake timeout (the preface counted
    // behind TLS, not the ClientHello), before the idle timeout; the third after the idle
    // timeout. The Watch stream, on a connection older than them, goes on, and a call on
    // its connection is answered.
    read_until_closed(
        &mut silent,
        opened + HANDSHAKE + SLACK,
        "the silent TCP connection",
    )
    .await;
    read_until_closed(
        &mut no_preface,
        opened + IDLE,
        "the TLS connection without a preface",
    )
    .await;
    let handshake_closed = opened.elapsed();
    assert!(
        handshake_closed >= HANDSHAKE,
        "closed after {handshake_closed:?}"
    );
    read_until_closed(
        &mut no_call,
        opened + IDLE + SLACK,
        "the TLS connection without a call",
    )
    .await;
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
async fn with_mutual_tls_an_agency_token_needs_its_own_agencys_certificate() {
    // Arrange: client certificates required.
    let pki = TestPki::new();
    let (setup, running) = start(|platform| platform.tls = Some(pki.server_mutual(true))).await;
    let police = pki.agency_client("police-north");

    // Act
    let own = echo_over(&running, &police, &agency_token(&setup, "police-north")).await;
    let other = echo_over(&running, &police, &agency_token(&setup, "health-east")).await;
    let staff = echo_over(&running, &police, &staff_token(&setup)).await;
    let without = echo_over(
        &running,
        &pki.client(),
        &agency_token(&setup, "police-north"),
    )
    .await;

    // Assert: its own agency's token is answered, another agency's refused; a token
    // without an org is not the certificate's business; without a certificate there is
    // no connection at all.
    own.expect("the certificate's agency");
    let refused = other.expect_err("another agency's token");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains("police-north"), "{refused:?}");
    staff.expect("a staff token");
    not_connected(without, "CertificateRequired");

    stop(setup, running).await;
}

#[tokio::test]
async fn with_optional_mutual_tls_only_agency_tokens_need_a_certificate() {
    // Arrange: client certificates optional.
    let pki = TestPki::new();
    let (setup, running) = start(|platform| platform.tls = Some(pki.server_mutual(false))).await;
    let health = pki.agency_client("health-east");

    // Act
    let staff = echo_over(&running, &pki.client(), &staff_token(&setup)).await;
    let agency_without = echo_over(
        &running,
        &pki.client(),
        &agency_token(&setup, "health-east"),
    )
    .await;
    let agency_with = echo_over(&running, &health, &agency_token(&setup, "health-east")).await;
    let other_agency = echo_over(&running, &health, &agency_token(&setup, "police-north")).await;

    // Assert
    staff.expect("staff connect without a certificate");
    let refused = agency_without.expect_err("an agency token without a certificate");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    agency_with.expect("the certificate's agency");
    let refused = other_agency.expect_err("another agency's token");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");

    stop(setup, running).await;
}

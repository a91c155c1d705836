//! web: the web front end's heaviest pages, the dashboard of a partnership with many reviews
//! and the combined chronology page of a review with 10,000 entries, at concurrency 16 over
//! HTTP, each beside a bare axum server answering a page of the same size from memory (the
//! HTTP stack's ceiling on this machine in the same run).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use cspr_tests::Stack;
use cspr_web::config::{ServiceUrls, WebConfig};
use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

use crate::common::{Services, Setup, drive, seed_reviews, wait_for_quiet_bus};
use crate::{Latency, Row, Size, ingest, verdict};

/// Concurrent browsers (the figure).
const CONCURRENCY: usize = 16;

/// The p99 the pages must stay under (server time as a browser on the same machine sees it).
const P99_TARGET_MS: f64 = 100.0;

pub(crate) async fn web(stack: &Stack, size: Size) -> anyhow::Result<Vec<Row>> {
    let services = Services::of(stack);
    let admin = services.token(&["partnership_admin"], None, "bench");
    eprintln!("web: seeding {} reviews…", size.web_reviews);
    seed_reviews(&services, &admin, "web", size.web_reviews).await?;
    eprintln!(
        "web: a review with one agency's report of {} entries…",
        size.web_entries
    );
    let setup = Setup::new(&services).await?;
    let review = ingest::review_with_requests(&services, &setup, "web-chronology", 1).await?;
    let rows = Arc::new(ingest::entry_rows(
        size.web_entries,
        setup.dates.first_entry,
    ));
    ingest::submit_report(&services, &review, 0, rows).await?;
    wait_for_quiet_bus(&stack.platform.subject_prefix).await?;
    // The registry's tables as autovacuum leaves them a while after a bulk load: right
    // after the seeding they have no statistics, and the planner took the partnership's
    // 10,001 reviews for 16 rows, read them all and sorted them for each page (about 20 ms
    // of PostgreSQL per dashboard page; BENCHMARKS.md, "Reads after issue 17's changes").
    if let Some(url) = stack.database_url("registry") {
        let pool = sqlx::PgPool::connect(url).await?;
        sqlx::query("ANALYZE").execute(&pool).await?;
        pool.close().await;
    }

    let shutdown = CancellationToken::new();
    let web = cspr_web::start(web_config(stack), shutdown.clone())
        .await
        .context("starting the web front end")?;
    let base = format!("http://{}", web.addr);
    // rustls has no provider of its own here; the tree's one is ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONCURRENCY)
        .build()?;
    let cookie = sign_in(&http, &base).await?;

    let mut results = Vec::new();
    for (measure, path) in [
        (
            format!("dashboard, first page of {} reviews", size.web_reviews + 1),
            "/".to_string(),
        ),
        (
            format!(
                "chronology page (100 of {} entries, with its timeline)",
                size.web_entries
            ),
            format!("/reviews/{review}/chronology"),
        ),
    ] {
        let url = format!("{base}{path}");
        let page = get(&http, &url, Some(&cookie)).await?;
        eprintln!(
            "web: {measure}: {} bytes, at concurrency {CONCURRENCY}…",
            page.len()
        );
        let (rate, histogram) = browse(&http, &url, Some(&cookie), size).await?;
        let (bare_addr, bare) = spawn_bare(page.clone()).await?;
        let bare_url = format!("http://{bare_addr}/");
        let (ceiling, ceiling_histogram) = browse(&http, &bare_url, None, size).await?;
        bare.abort();
        let latency = Latency::of(&histogram);
        // Each page's figures as soon as they are measured: a later page that fails (the
        // chronology page has answered 503 on a loaded machine) does not lose them.
        eprintln!(
            "web: {measure}: {rate:.0} pages/s (ceiling {ceiling:.0}), p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms",
            latency.p50, latency.p99, latency.p999
        );
        results.push(Row {
            scenario: "web",
            measure,
            unit: "pages/s",
            rate,
            ceiling: Some(ceiling),
            latency: Some(latency),
            ceiling_latency: Some(Latency::of(&ceiling_histogram)),
            target: verdict("p99 < 100 ms at 16", latency.p99 < P99_TARGET_MS),
            note: format!(
                "{} B of HTML; signed in as partnership_admin (session cookie); ceiling: bare axum \
                 answering the same {} B from memory, same client and concurrency",
                page.len(),
                page.len()
            ),
        });
    }
    shutdown.cancel();
    web.stopped().await?;
    Ok(results)
}

/// The web in front of the in-process services, with the development sign-in.
fn web_config(stack: &Stack) -> WebConfig {
    let url = |addr: SocketAddr| format!("http://{addr}");
    WebConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        public_url: "http://localhost:8080".into(),
        idle_timeout: std::time::Duration::from_secs(3600),
        services: ServiceUrls {
            registry: url(stack.registry.addr),
            submissions: url(stack.submissions.addr),
            practitioners: url(stack.practitioners.addr),
            family: url(stack.family.addr),
            actions: url(stack.actions.addr),
            notifications: url(stack.notifications.addr),
        },
        client_tls: Default::default(),
        dashboards_url: "http://localhost:3000".into(),
        development_auth: Some(stack.platform.auth.clone()),
        oidc: None,
    }
}

/// The session cookie of a development sign-in as a partnership admin.
async fn sign_in(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let form = http.get(format!("{base}/sign-in")).send().await?;
    let first = session_cookie(&form).context("the sign-in page's session")?;
    let html = form.text().await?;
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).context("the sign-in form's CSRF token")? + marker.len();
    let csrf = &html[start..start + 64];
    let body =
        format!("csrf_token={csrf}&name=bench&partnership=southvale&org=&roles=partnership_admin");
    let signed = http
        .post(format!("{base}/sign-in"))
        .header("cookie", &first)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    if !signed.status().is_redirection() {
        bail!("the sign-in answered {}", signed.status());
    }
    session_cookie(&signed).context("the signed-in session")
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| pair.starts_with("cspr_session=") && *pair != "cspr_session=")
        .map(str::to_string)
}

/// One page, which must be a 200.
async fn get(
    http: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
) -> anyhow::Result<bytes::Bytes> {
    let mut request = http.get(url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    if status != reqwest::StatusCode::OK {
        bail!(
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(body)
}

/// `CONCURRENCY` browsers asking for `url` one page after another: the rate over the
/// measured time and each page's latency (µs).
async fn browse(
    http: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
    size: Size,
) -> anyhow::Result<(f64, Histogram<u64>)> {
    let (url, cookie) = (Arc::new(url.to_string()), cookie.map(str::to_string));
    drive(
        std::slice::from_ref(http),
        size,
        CONCURRENCY,
        move |http, _| {
            let (url, cookie) = (url.clone(), cookie.clone());
            async move { get(&http, &url, cookie.as_deref()).await.map(drop) }
        },
    )
    .await
}

/// A bare axum server answering `page` (as HTML) at every path.
async fn spawn_bare(
    page: bytes::Bytes,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let app = axum::Router::new().fallback(move || {
        let page = page.clone();
        async move { ([("content-type", "text/html; charset=utf-8")], page) }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, server))
}

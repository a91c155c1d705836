//! `/assets/...`: GOV.UK Frontend's CSS, JavaScript, fonts and images, embedded at build
//! time from the npm package (build.rs), and the one script of our own that starts its
//! enhancements. They change only with a new build, so browsers may keep them a day.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Starts GOV.UK Frontend's JavaScript (pages work without it).
const INIT_JS: &[u8] = include_bytes!("init.js");

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

pub(crate) async fn serve(Path(path): Path<String>) -> Response {
    let body = if path == "cspr-init.js" {
        Some(INIT_JS)
    } else {
        GOVUK_FILES
            .iter()
            .find(|(name, _)| *name == path)
            .map(|(_, bytes)| *bytes)
    };
    match body {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(&path)),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

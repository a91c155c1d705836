//! End-to-end suites across cspr services, run by `cargo test --workspace` (see `tests/`).
//!
//! # Layout
//! - `tests/end_to_end.rs`: the registry as an outside client and a plain NATS subscriber see
//!   it (the integration contract: gRPC in, `cspr.registry.>` events out).
//! - [`spawn_registry`]: starts a registry in-process on a free port with its own database,
//!   subject prefix and manual clock; later suites start the other services beside it.
//!
//! The benchmark harness will live here too (a binary, not part of `cargo test`).

#![forbid(unsafe_code)]

use std::time::Duration;

use cspr_platform::clock::ManualClock;
use cspr_platform::config::PlatformConfig;
use cspr_platform::server::RunningService;
use cspr_platform::testing;
use cspr_registry::config::RegistryConfig;
use tokio_util::sync::CancellationToken;

/// A registry started for a suite, and what is needed to clean it up.
pub struct SpawnedRegistry {
    /// Shared settings (subject prefix, token key).
    pub platform: PlatformConfig,
    /// The clock the registry reads.
    pub clock: ManualClock,
    /// Cancel to stop it.
    pub shutdown: CancellationToken,
    /// The running service.
    pub running: RunningService,
    /// Its database, dropped at the end.
    pub database_url: String,
}

/// Starts a registry on a free port; returns once it reports SERVING.
pub async fn spawn_registry(today: chrono::NaiveDate) -> SpawnedRegistry {
    testing::init();
    let clock = ManualClock::on(today);
    let shutdown = CancellationToken::new();
    let platform = testing::platform_config(&testing::nats_url());
    let context = testing::context(cspr_registry::SERVICE_NAME, &platform, &clock, &shutdown).await;
    let database_url = context.service.database_url.clone();
    let config = RegistryConfig {
        rules: Default::default(),
        sweep_interval: Duration::from_secs(3600),
    };
    let running = cspr_registry::start(context, config)
        .await
        .expect("registry starts");
    assert!(running.wait_ready().await, "registry ready");
    SpawnedRegistry {
        platform,
        clock,
        shutdown,
        running,
        database_url,
    }
}

impl SpawnedRegistry {
    /// Stops the registry and removes its database and streams.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.running.stopped().await.expect("clean stop");
        testing::delete_streams(&testing::nats_url(), &self.platform.subject_prefix).await;
        testing::drop_database(&self.database_url).await;
    }
}

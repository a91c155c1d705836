//! Waiting for a condition instead of sleeping: a test that sleeps a fixed time either
//! wastes it or, on a busy machine, checks too early. [`eventually`] polls a probe until it
//! yields a value and fails the test with what it waited for once the deadline passes.

use std::future::Future;
use std::time::Duration;

/// How long a test waits for something the services do on their own (an event consumed,
/// a row projected, an email sent): generous, as CI machines are shared.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How often [`eventually`] probes.
const POLL: Duration = Duration::from_millis(25);

/// Polls `probe` until it returns `Some`, and returns that value; panics naming `what`
/// after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll_until(deadline, probe).await {
        Some(value) => value,
        None => panic!("gave up after {deadline:?} waiting for {what}"),
    }
}

/// Polls `probe` until it returns `Some` (that value) or `deadline` passes (`None`), for a
/// caller that has more to say when it gives up. The probe runs once more at the deadline,
/// so a slow probe still gets its last look.
pub async fn poll_until<T, F, Fut>(deadline: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let give_up_at = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= give_up_at {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// [`eventually`] for a yes/no condition.
pub async fn wait_until<F, Fut>(what: &str, deadline: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually(what, deadline, || {
        let holds = condition();
        async move { holds.await.then_some(()) }
    })
    .await
}

/// The blocking twin of [`eventually`], for tests that drive processes without a runtime.
pub fn eventually_blocking<T>(
    what: &str,
    deadline: Duration,
    probe: impl FnMut() -> Option<T>,
) -> T {
    eventually_blocking_every(what, deadline, POLL, probe)
}

/// [`eventually_blocking`] probing every `interval`: for a probe that costs something
/// itself (e.g. one that starts a process), where probing 40 times a second would take the
/// CPU from what it waits for.
pub fn eventually_blocking_every<T>(
    what: &str,
    deadline: Duration,
    interval: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let give_up_at = std::time::Instant::now() + deadline;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if std::time::Instant::now() >= give_up_at {
            panic!("gave up after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(interval);
    }
}

//! Noticing when part of a running service dies.
//!
//! A service is its gRPC server plus long-running tasks (outbox relay, consumers, jobs,
//! gauges). Each of them is meant to run until shutdown: the loops retry their own faults
//! (NATS or PostgreSQL away) and never return early. So a task that *ends* while the service
//! should be running, or panics, leaves the process half-dead — answering health checks
//! while, say, no event is consumed any more. The [`Supervisor`] runs every such task and,
//! on the first that fails, turns health `NOT_SERVING`, logs the task's name and cause at
//! error, and records the failure, which [`crate::server::RunningService::ended`] reports so
//! that `cspr serve` exits non-zero and an orchestrator restarts it.
//!
//! A task that ends after shutdown was asked is normal.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::{Mutex, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// A task of a running service that ended or panicked while the service should have run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{task} failed: {cause}")]
pub struct TaskFailure {
    /// The task, e.g. "consumer of registry", "outbox relay", "grpc server".
    pub task: String,
    /// What ended it: the panic message, its error, or "ended before shutdown".
    pub cause: String,
}

/// Why [`crate::server::RunningService::ended`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Shutdown was asked (signal, or the token cancelled).
    Shutdown,
    /// A task failed; the service is `NOT_SERVING`.
    Failed(TaskFailure),
}

/// Whether a task's returning is itself a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifetime {
    /// It should run until shutdown (a loop): returning earlier is a failure.
    UntilShutdown,
    /// It finishes on its own (the start-up task): only a panic or an error is a failure.
    Finishes,
}

/// Runs a service's tasks and reports the first failure; cheap to clone.
#[derive(Clone)]
pub(crate) struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    /// The service name (logs, the test fault's address).
    service: &'static str,
    /// The gRPC service health reports on.
    grpc_name: &'static str,
    /// The service's health, turned NOT_SERVING on a failure.
    health: HealthReporter,
    /// Once cancelled, tasks ending are normal.
    shutdown: CancellationToken,
    /// Where background tasks run, so shutdown can wait for them.
    tasks: TaskTracker,
    /// The first failure; `None` while all is well.
    failure: watch::Sender<Option<TaskFailure>>,
    /// Held while health changes, so SERVING cannot be set after a failure turned it off.
    health_lock: Mutex<()>,
}

impl Supervisor {
    pub(crate) fn new(
        service: &'static str,
        grpc_name: &'static str,
        health: HealthReporter,
        shutdown: CancellationToken,
        tasks: TaskTracker,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                service,
                grpc_name,
                health,
                shutdown,
                tasks,
                failure: watch::channel(None).0,
                health_lock: Mutex::new(()),
            }),
        }
    }

    /// Spawns `future` on the service's task tracker, supervised.
    pub(crate) fn spawn<F, E>(&self, task: impl Into<String>, lifetime: Lifetime, future: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + 'static,
    {
        self.inner
            .tasks
            .spawn(self.clone().run(task.into(), lifetime, future));
    }

    /// Runs `future` to its end and reports it if that end is a failure. Not an `async fn`:
    /// a test-support build arms its fault before the task is first polled.
    #[cfg_attr(not(feature = "test-support"), allow(clippy::manual_async_fn))]
    pub(crate) fn run<F, E>(
        self,
        task: String,
        lifetime: Lifetime,
        future: F,
    ) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + 'static,
    {
        #[cfg(feature = "test-support")]
        let future = fault::injectable(self.inner.service, &task, future);
        async move {
            let cause = match AssertUnwindSafe(future).catch_unwind().await {
                Ok(Ok(())) => {
                    if lifetime == Lifetime::Finishes || self.inner.shutdown.is_cancelled() {
                        return;
                    }
                    "ended before shutdown".to_string()
                }
                Ok(Err(error)) => error.to_string(),
                Err(panic) => format!("panicked: {}", panic_message(&*panic)),
            };
            self.fail(TaskFailure { task, cause }).await;
        }
    }

    /// Records `failure` (the first one wins), turns health NOT_SERVING and logs it.
    async fn fail(&self, failure: TaskFailure) {
        let _health = self.inner.health_lock.lock().await;
        tracing::error!(
            service = self.inner.service,
            task = %failure.task,
            cause = %failure.cause,
            "service task failed: NOT_SERVING"
        );
        self.inner.failure.send_if_modified(|first| {
            if first.is_some() {
                return false;
            }
            *first = Some(failure);
            true
        });
        self.set_health(ServingStatus::NotServing).await;
    }

    /// Turns health SERVING unless a task has failed or shutdown was asked; returns
    /// whether it did.
    pub(crate) async fn set_serving(&self) -> bool {
        let _health = self.inner.health_lock.lock().await;
        if self.failure().is_some() || self.inner.shutdown.is_cancelled() {
            return false;
        }
        self.set_health(ServingStatus::Serving).await;
        true
    }

    /// Turns health NOT_SERVING (shutdown).
    pub(crate) async fn set_not_serving(&self) {
        let _health = self.inner.health_lock.lock().await;
        self.set_health(ServingStatus::NotServing).await;
    }

    /// The service name.
    pub(crate) fn service(&self) -> &'static str {
        self.inner.service
    }

    async fn set_health(&self, status: ServingStatus) {
        self.inner
            .health
            .set_service_status(self.inner.grpc_name, status)
            .await;
        self.inner.health.set_service_status("", status).await;
    }

    /// The first failure, if any.
    pub(crate) fn failure(&self) -> Option<TaskFailure> {
        self.inner.failure.borrow().clone()
    }

    /// Resolves with the first failure, or [`Ending::Shutdown`] once shutdown is asked.
    pub(crate) async fn ended(&self) -> Ending {
        let mut failure = self.inner.failure.subscribe();
        tokio::select! {
            biased;
            failed = failure.wait_for(Option::is_some) => match failed.ok().and_then(|failed| failed.clone()) {
                Some(failure) => Ending::Failed(failure),
                None => Ending::Shutdown,
            },
            _ = self.inner.shutdown.cancelled() => Ending::Shutdown,
        }
    }

    pub(crate) fn tasks(&self) -> &TaskTracker {
        &self.inner.tasks
    }
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Supervisor")
            .field("service", &self.inner.service)
            .field("failure", &self.failure())
            .finish_non_exhaustive()
    }
}

/// The text of a panic's payload (`panic!` gives a `&str` or a `String`).
fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        return (*message).to_string();
    }
    if let Some(message) = panic.downcast_ref::<String>() {
        return message.clone();
    }
    "a panic without a message".to_string()
}

/// A fault injected from outside a test-support build, for tests that run the `cspr`
/// binary as a process: no real fault ends a task (every loop retries its own errors), so
/// the process test of supervision needs one.
///
/// With `CSPR_TEST_FAIL_TASK=<service>/<task>` set (e.g. `actions/consumer of registry`),
/// that task panics when the process receives `SIGUSR1`.
#[cfg(feature = "test-support")]
mod fault {
    use std::future::Future;

    /// The variable naming the task to fail.
    const VARIABLE: &str = "CSPR_TEST_FAIL_TASK";

    /// Wraps `future` so that it panics on `SIGUSR1` if it is the chosen task. The signal
    /// is listened for at once (SIGUSR1 would otherwise end the process).
    pub(super) fn injectable<F: Future + Send + 'static>(
        service: &'static str,
        task: &str,
        future: F,
    ) -> std::pin::Pin<Box<dyn Future<Output = F::Output> + Send>> {
        let chosen =
            std::env::var(VARIABLE).is_ok_and(|chosen| chosen == format!("{service}/{task}"));
        let signal = if chosen { user_signal() } else { None };
        let Some(mut signal) = signal else {
            return Box::pin(future);
        };
        Box::pin(async move {
            tokio::select! {
                output = future => output,
                _ = signal.recv() => panic!("fault injected by {VARIABLE} on SIGUSR1"),
            }
        })
    }

    #[cfg(unix)]
    fn user_signal() -> Option<tokio::signal::unix::Signal> {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::user_defined1()).ok()
    }

    #[cfg(not(unix))]
    fn user_signal() -> Option<NoSignal> {
        None
    }

    /// No user signals off Unix: the fault cannot be injected there.
    #[cfg(not(unix))]
    struct NoSignal;

    #[cfg(not(unix))]
    impl NoSignal {
        async fn recv(&mut self) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_read_from_either_payload() {
        let literal: Box<dyn Any + Send> = Box::new("boom");
        let formatted: Box<dyn Any + Send> = Box::new(format!("boom {}", 2));
        let other: Box<dyn Any + Send> = Box::new(7_u8);
        assert_eq!(panic_message(&*literal), "boom");
        assert_eq!(panic_message(&*formatted), "boom 2");
        assert_eq!(panic_message(&*other), "a panic without a message");
    }
}

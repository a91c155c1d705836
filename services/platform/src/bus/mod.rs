//! The event bus: NATS JetStream, reached only through this module.
//!
//! Naming (so parallel deployments and test runs never collide, all derived from the
//! subject prefix `CSPR_SUBJECT_PREFIX`):
//! - subjects `<prefix>.<service>.<event_type>`, e.g. `cspr.registry.review_created`;
//! - one stream per producing service, `<PREFIX>_<SERVICE>` over `<prefix>.<service>.>`;
//! - one durable pull consumer per consuming service and stream, `<prefix>_<consumer>`.
//!
//! Producers write events to their outbox ([`outbox`]); a relay publishes them. Consumers run
//! through [`consumer`], which records handled event ids in the inbox.

pub mod consumer;
pub mod outbox;
pub mod trace;

use std::time::Duration;

use async_nats::jetstream::{self, stream};

/// The bus could not be reached or set up.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("cannot set up JetStream stream {stream}: {message}")]
    Stream { stream: String, message: String },
    #[error("cannot set up JetStream consumer {consumer}: {message}")]
    Consumer { consumer: String, message: String },
}

/// A connection to NATS JetStream plus the naming scheme.
#[derive(Clone, Debug)]
pub struct Bus {
    /// The core NATS client (reconnects by itself).
    client: async_nats::Client,
    /// JetStream on that client.
    jetstream: jetstream::Context,
    /// First subject token; prefixes stream and consumer names too.
    prefix: String,
    /// Stream replicas: 1 on a single server, 3 on a NATS cluster.
    replicas: usize,
}

/// How long a published event stays in a stream. Consumers are durable and fast; the stream
/// is a transport, not an archive (the outbox and the services' tables are the record).
pub const STREAM_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Window in which JetStream drops a republished event with the same `Nats-Msg-Id`. Longer
/// than any relay retry, so an event republished after a crash is dropped.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(20 * 60);

impl Bus {
    /// Connects to NATS: `url` is one server or a comma-separated list of a cluster's
    /// (any of them will do; the client learns the rest from the cluster). The client keeps
    /// reconnecting in the background after a loss, to whichever server answers; the first
    /// connection is retried too, so a service can start before NATS.
    pub async fn connect(url: &str, prefix: &str, replicas: usize) -> Result<Self, BusError> {
        let servers: Vec<&str> = url
            .split(',')
            .map(str::trim)
            .filter(|server| !server.is_empty())
            .collect();
        let client = async_nats::ConnectOptions::new()
            .name(format!("cspr/{prefix}"))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(3))
            .connect(servers)
            .await
            .map_err(|source| BusError::Connect {
                url: url.to_string(),
                source,
            })?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(5))
            .build(client.clone());
        Ok(Self {
            client,
            jetstream,
            prefix: prefix.to_string(),
            replicas: replicas.max(1),
        })
    }

    /// Whether the connection to NATS is up right now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Waits until connected (polling, so it also notices a later start of NATS).
    pub async fn wait_connected(&self, shutdown: &tokio_util::sync::CancellationToken) -> bool {
        let mut logged = false;
        loop {
            if self.is_connected() {
                return true;
            }
            if !logged {
                tracing::warn!("waiting for NATS");
                logged = true;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// `<prefix>.<service>.<event_type>`.
    pub fn subject(&self, service: &str, event_type: &str) -> String {
        subject(&self.prefix, service, event_type)
    }

    /// `<PREFIX>_<SERVICE>`.
    pub fn stream_name(&self, service: &str) -> String {
        stream_name(&self.prefix, service)
    }

    /// `<prefix>_<consumer>`.
    pub fn durable_name(&self, consumer: &str) -> String {
        format!("{}_{}", self.prefix, consumer).replace(['.', '*', '>', ' '], "_")
    }

    /// The stream every producer and consumer of `service`'s events agrees on. Producers
    /// ensure it at start-up; consumers ensure it too, so start order does not matter.
    pub fn stream_config(&self, service: &str) -> stream::Config {
        stream::Config {
            name: self.stream_name(service),
            subjects: vec![format!("{}.{}.>", self.prefix, service)],
            storage: stream::StorageType::File,
            max_age: STREAM_MAX_AGE,
            duplicate_window: DUPLICATE_WINDOW,
            num_replicas: self.replicas,
            ..Default::default()
        }
    }

    /// What `consumer`'s durable consumers have not yet taken in or acknowledged, by the
    /// service whose stream they read (streams it does not consume are left out).
    pub async fn pending_of(&self, consumer: &str) -> Result<Vec<(String, u64)>, BusError> {
        use futures::StreamExt as _;
        let durable = self.durable_name(consumer);
        let wanted = stream_name(&self.prefix, "");
        let names: Vec<String> = self
            .jetstream
            .stream_names()
            .filter_map(|name| async move { name.ok() })
            .collect()
            .await;
        let mut pending = Vec::new();
        for name in names.into_iter().filter(|name| name.starts_with(&wanted)) {
            let stream = match self.jetstream.get_stream(&name).await {
                Ok(stream) => stream,
                Err(_) => continue,
            };
            if let Ok(info) = stream.consumer_info(&durable).await {
                let source = name[wanted.len()..].to_lowercase();
                pending.push((source, info.num_pending + info.num_ack_pending as u64));
            }
        }
        Ok(pending)
    }

    /// Creates `service`'s stream if missing.
    pub async fn ensure_stream(&self, service: &str) -> Result<stream::Stream, BusError> {
        let config = self.stream_config(service);
        let name = config.name.clone();
        self.jetstream
            .get_or_create_stream(config)
            .await
            .map_err(|error| BusError::Stream {
                stream: name,
                message: error.to_string(),
            })
    }
}

/// `<prefix>.<service>.<event_type>`.
pub fn subject(prefix: &str, service: &str, event_type: &str) -> String {
    format!("{prefix}.{service}.{event_type}")
}

/// `<PREFIX>_<SERVICE>`, upper case, with characters streams refuse replaced.
pub fn stream_name(prefix: &str, service: &str) -> String {
    format!("{prefix}_{service}")
        .to_ascii_uppercase()
        .replace(['-', '.', '*', '>', ' '], "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prefix() {
        assert_eq!(
            subject("cspr", "registry", "review_created"),
            "cspr.registry.review_created"
        );
        assert_eq!(stream_name("cspr", "registry"), "CSPR_REGISTRY");
        assert_eq!(stream_name("t-1a2b", "registry"), "T_1A2B_REGISTRY");
    }
}

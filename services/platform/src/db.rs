//! The database of one service: created if missing, pooled, migrated.
//!
//! Each service owns one database (`cspr_<service>` by default). The platform's own tables
//! (outbox, inbox, dead letters, audit, idempotency keys) are migrated first with versions
//! below 1000, then the service's migrations (1000 and up); each migrator ignores the
//! other's versions.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// A database that could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("invalid database URL: {0}")]
    Url(#[source] sqlx::Error),
    #[error("cannot reach PostgreSQL at {host}: {source}")]
    Connect {
        host: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot create database {database}: {source}")]
    Create {
        database: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Creates the database named in `url` if it does not exist, by connecting to the server's
/// `postgres` database. Concurrent creators (replicas, parallel tests) are tolerated.
pub async fn create_database_if_missing(url: &str) -> Result<(), DatabaseError> {
    let options: PgConnectOptions = url.parse().map_err(DatabaseError::Url)?;
    let database = options.get_database().unwrap_or("postgres").to_string();
    let host = options.get_host().to_string();
    let mut connection = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .map_err(|source| DatabaseError::Connect { host, source })?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&database)
            .fetch_one(&mut connection)
            .await
            .map_err(|source| DatabaseError::Create {
                database: database.clone(),
                source,
            })?;
    if !exists {
        // The name comes from configuration, and is quoted as an identifier (CREATE DATABASE
        // takes no bind parameters).
        let statement = format!("CREATE DATABASE \"{}\"", database.replace('"', "\"\""));
        if let Err(source) = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut connection)
            .await
        {
            // 42P04 duplicate_database / 23505: another process created it first.
            let raced = source
                .as_database_error()
                .and_then(|error| error.code())
                .is_some_and(|code| code == "42P04" || code == "23505");
            if !raced {
                return Err(DatabaseError::Create { database, source });
            }
        }
        tracing::info!(%database, "created database");
    }
    let _ = connection.close().await;
    Ok(())
}

/// Connects a pool to an existing database. Acquiring fails fast when PostgreSQL is down so
/// RPCs answer `UNAVAILABLE` instead of hanging.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, DatabaseError> {
    let options: PgConnectOptions = url.parse().map_err(DatabaseError::Url)?;
    let host = options.get_host().to_string();
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(options)
        .await
        .map_err(|source| DatabaseError::Connect { host, source })
}

/// Whether `error` means PostgreSQL is out of reach rather than that the statement was
/// wrong: the server could not be reached or the connection was lost (it stopped, crashed,
/// restarted, is starting up, cut the session, or has no connection slot left), or the pool
/// waited in vain for a connection. Such a failure says nothing about the request or the
/// event, and the same work may succeed once the server is back: callers are told
/// UNAVAILABLE ([`crate::error::ServiceError`]) and consumers wait for the database instead
/// of counting the failure against the message ([`crate::bus::consumer`]).
pub fn connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database
            .code()
            .is_some_and(|code| sqlstate_means_unreachable(&code)),
        _ => false,
    }
}

/// The SQLSTATEs PostgreSQL ends or refuses a session with when the server, not the
/// statement, is the problem: class 08 (connection exception), 57P01 admin_shutdown (a
/// fast shutdown or `pg_terminate_backend`), 57P02 crash_shutdown (another backend
/// crashed), 57P03 cannot_connect_now (starting up or shutting down), 57P05
/// idle_session_timeout, and 53300 too_many_connections.
fn sqlstate_means_unreachable(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "57P05" | "53300")
}

/// Whether the database answers a trivial query now: how a loop that lost its connection
/// learns that PostgreSQL is back.
pub async fn reachable(pool: &PgPool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}

/// Applies the platform's and then the service's migrations (`sqlx::migrate!()` of the
/// service crate).
pub async fn migrate(pool: &PgPool, mut service_migrations: Migrator) -> Result<(), DatabaseError> {
    migrate_platform(pool).await?;
    service_migrations.set_ignore_missing(true);
    service_migrations.run(pool).await?;
    Ok(())
}

/// Applies only the platform's own tables (outbox, inbox, dead letters, audit, idempotency).
pub async fn migrate_platform(pool: &PgPool) -> Result<(), DatabaseError> {
    let mut platform_migrations = sqlx::migrate!("./migrations");
    platform_migrations.set_ignore_missing(true);
    platform_migrations.run(pool).await?;
    Ok(())
}

/// Wakes a background loop when a transaction that did `pg_notify(channel, …)` commits, with
/// a poll as the backstop (a listener reconnecting misses notifications).
pub struct Wakeup {
    /// None when listening failed: the loop then only polls.
    listener: Option<sqlx::postgres::PgListener>,
    /// The longest wait.
    poll: Duration,
}

impl Wakeup {
    pub async fn listen(pool: &PgPool, channel: &str, poll: Duration) -> Self {
        let listener = match sqlx::postgres::PgListener::connect_with(pool).await {
            Ok(mut listener) => match listener.listen(channel).await {
                Ok(()) => Some(listener),
                Err(error) => {
                    tracing::warn!(%error, channel, "cannot listen; polling only");
                    None
                }
            },
            Err(error) => {
                tracing::warn!(%error, channel, "cannot listen; polling only");
                None
            }
        };
        Self { listener, poll }
    }

    /// Returns on a notification or after the poll interval, whichever comes first.
    pub async fn wait(&mut self) {
        let poll = self.poll;
        let notified = async {
            match self.listener.as_mut() {
                Some(listener) => {
                    if listener.try_recv().await.is_err() {
                        tokio::time::sleep(poll).await;
                    }
                }
                None => tokio::time::sleep(poll).await,
            }
        };
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::error::Error as StdError;

    use super::*;

    /// An error as PostgreSQL returns it, with only its SQLSTATE.
    #[derive(Debug)]
    struct Returned(&'static str);

    impl std::fmt::Display for Returned {
        fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(formatter, "SQLSTATE {}", self.0)
        }
    }

    impl StdError for Returned {}

    impl sqlx::error::DatabaseError for Returned {
        fn message(&self) -> &str {
            self.0
        }

        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }

        fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
            self
        }

        fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
            self
        }

        fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
            self
        }

        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn the_server_ending_or_refusing_the_session_is_a_lost_connection() {
        for code in [
            "57P01", "57P02", "57P03", "57P05", "08006", "08003", "53300",
        ] {
            assert!(
                connection_lost(&sqlx::Error::Database(Box::new(Returned(code)))),
                "{code}"
            );
        }
        // A wrong statement, a constraint, a serialization failure: the request's problem.
        for code in ["42P01", "23505", "40001", "22P02"] {
            assert!(
                !connection_lost(&sqlx::Error::Database(Box::new(Returned(code)))),
                "{code}"
            );
        }
    }
}

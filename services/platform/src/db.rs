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

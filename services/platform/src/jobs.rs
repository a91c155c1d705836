//! Periodic work (deadline sweeps, reminders), written once: a pass walks the work in
//! pages (each page locked with `SKIP LOCKED` by the service, so replicas share it), and a
//! loop runs passes at an interval until shutdown.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use chrono::NaiveDate;
use cspr_proto::events::v1::event::Body;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::bus::outbox::EventMeta;
use crate::store::{StoreParts, lock_due_page};

/// Runs `page` from the start until it reports no next page; returns the total of what the
/// pages did (e.g. alerts raised). Each page gets the last id of the previous one.
pub async fn drain_pages<E, F, Fut>(mut page: F) -> Result<usize, E>
where
    F: FnMut(Option<Uuid>) -> Fut,
    Fut: Future<Output = Result<(Option<Uuid>, usize), E>>,
{
    let mut after = None;
    let mut total = 0;
    loop {
        let (last, done) = page(after).await?;
        total += done;
        match last {
            Some(last) => after = Some(last),
            None => return Ok(total),
        }
    }
}

/// The `after` of the page that follows `rows`: the id of the last row of a full page, `None`
/// once a page comes back short (the pass is done). The page function's return for
/// [`drain_pages`].
pub fn next_page<T>(rows: &[T], page_size: i64, id: impl Fn(&T) -> Uuid) -> Option<Uuid> {
    if i64::try_from(rows.len()).is_ok_and(|count| count == page_size) {
        rows.last().map(id)
    } else {
        None
    }
}

/// A sweep over rows that carry a date to be looked at again (a contact deferral's, a
/// restriction's review date): each row due by today raises its event once per date, however
/// many replicas sweep. The service names its table in the two statements.
#[derive(Debug, Clone, Copy)]
pub struct ReviewDateSweep {
    /// Selects `(id, review_id, partnership_id, date)` of the rows due on or before `$1`, ids
    /// after `$2` (NULL: from the start), by id, at most `$3`, locked `FOR UPDATE OF …
    /// SKIP LOCKED` so that replicas take different rows.
    pub select_due: &'static str,
    /// Records the alert of `(id $1, date $2)` with `ON CONFLICT DO NOTHING`: a new row is
    /// an alert to raise, an existing one was raised before.
    pub record_alert: &'static str,
    /// The events' actor, e.g. `system:deferral-reviews`.
    pub system: &'static str,
    /// The event of one due row, from its id and date.
    pub event: fn(Uuid, NaiveDate) -> Body,
}

impl ReviewDateSweep {
    /// One page, in one transaction with its events: the page function for
    /// [`drain_pages`]. Dates are due from the store's clock's today. Returns the next
    /// page's `after` and how many alerts it raised.
    pub async fn page(
        &self,
        store: &StoreParts,
        after: Option<Uuid>,
        page_size: i64,
    ) -> Result<(Option<Uuid>, usize), sqlx::Error> {
        let today = store.clock.today();
        let outbox = &store.outbox;
        let mut transaction = store.pool.begin().await?;
        let rows: Vec<(Uuid, Uuid, String, NaiveDate)> =
            lock_due_page(&mut transaction, self.select_due, today, after, page_size).await?;
        let mut raised = 0;
        for (id, review_id, partnership_id, date) in &rows {
            let record_alert = sqlx::query(self.record_alert).bind(id).bind(date);
            let meta = EventMeta::system(partnership_id, *review_id, self.system);
            if outbox
                .raise_once(
                    &mut transaction,
                    record_alert,
                    &meta,
                    (self.event)(*id, *date),
                )
                .await?
            {
                raised += 1;
            }
        }
        transaction.commit().await?;
        Ok((next_page(&rows, page_size, |row| row.0), raised))
    }
}

/// Runs `pass` now and then every `interval` until `shutdown`, logging what each did; a
/// failed pass is logged and retried at the next interval.
pub async fn run_every<E, F, Fut>(
    job: &'static str,
    interval: Duration,
    shutdown: CancellationToken,
    mut pass: F,
) where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
{
    loop {
        match pass().await {
            Ok(0) => tracing::debug!(job, "nothing to do"),
            Ok(done) => tracing::info!(job, done, "periodic job done"),
            Err(error) => {
                tracing::warn!(job, %error, "periodic job failed; retrying next interval")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// [`run_every`] with the first pass one interval after start, for sweeps that raise each
/// alert once whichever replica sweeps: a pass at start-up would add nothing the next one
/// does not, and it would race the passes tests drive themselves.
pub async fn run_every_after_an_interval<E, F, Fut>(
    job: &'static str,
    interval: Duration,
    shutdown: CancellationToken,
    pass: F,
) where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
{
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = tokio::time::sleep(interval) => {}
    }
    run_every(job, interval, shutdown, pass).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pages_are_walked_until_the_last() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let mut seen = Vec::new();
        let total = drain_pages(|after| {
            seen.push(after);
            let position = after
                .and_then(|id| ids.iter().position(|known| *known == id))
                .map_or(0, |index| index + 1);
            let next = ids.get(position).copied();
            async move { Ok::<_, std::convert::Infallible>((next, 2)) }
        })
        .await
        .expect("infallible");
        assert_eq!(total, 8);
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[0], None);
    }

    #[test]
    fn a_full_page_continues_after_its_last_row_and_a_short_one_ends() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        assert_eq!(next_page(&ids, 3, |id| *id), Some(ids[2]));
        assert_eq!(next_page(&ids, 4, |id| *id), None);
        assert_eq!(next_page(&[] as &[Uuid], 3, |id| *id), None);
    }
}

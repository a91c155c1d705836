//! Periodic work (deadline sweeps, reminders), written once: a pass walks the work in
//! pages (each page locked with `SKIP LOCKED` by the service, so replicas share it), and a
//! loop runs passes at an interval until shutdown.
//!
//! Every service's sweep is a [`Sweep`] of its [`SweepPages`]: the service says only what a
//! page does (its store's SQL), the job's name and, where it differs, its page size and when
//! its first pass runs. The two sweeps of rows with a date to look at again are
//! [`ReviewDateSweep`]s, whose pages are written here too ([`ReviewDates`]).

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use chrono::NaiveDate;
use cspr_proto::events::v1::event::Body;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::bus::outbox::EventMeta;
use crate::store::{DuePage, StoreParts};

/// What one page of a pass returns: the next page's `after` (`None` when this page was the
/// last) and how much it did (e.g. alerts raised).
pub type Page = (Option<Uuid>, usize);

/// Runs `page` from the start until it reports no next page; returns the total of what the
/// pages did (e.g. alerts raised). Each page gets the last id of the previous one.
pub async fn drain_pages<E, F, Fut>(mut page: F) -> Result<usize, E>
where
    F: FnMut(Option<Uuid>) -> Fut,
    Fut: Future<Output = Result<Page, E>>,
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
    /// The job's name in the logs, e.g. `deferral reviews`.
    pub job: &'static str,
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
    ) -> Result<Page, sqlx::Error> {
        let mut page: DuePage<(Uuid, Uuid, String, NaiveDate)> = store
            .begin_due_page(self.select_due, 0, after, page_size)
            .await?;
        for (id, review_id, partnership_id, date) in &page.rows {
            let record_alert = sqlx::query(self.record_alert).bind(id).bind(date);
            let meta = EventMeta::system(partnership_id, *review_id, self.system);
            let body = (self.event)(*id, *date);
            page.alerts.raise_once(record_alert, &meta, body).await?;
        }
        page.commit(|row| row.0).await
    }

    /// This sweep over a store's rows: the pages of its [`Sweep`].
    pub fn over(self, store: &StoreParts) -> ReviewDates {
        ReviewDates {
            sweep: self,
            store: store.clone(),
        }
    }
}

/// A [`ReviewDateSweep`] over a service's store, as a [`Sweep`]'s pages. Its first pass runs
/// at start-up.
#[derive(Debug, Clone)]
pub struct ReviewDates {
    sweep: ReviewDateSweep,
    store: StoreParts,
}

impl SweepPages for ReviewDates {
    type Error = sqlx::Error;

    fn job(&self) -> &'static str {
        self.sweep.job
    }

    fn first_pass(&self) -> FirstPass {
        FirstPass::AtStart
    }

    async fn page(&self, after: Option<Uuid>, page_size: i64) -> Result<Page, sqlx::Error> {
        self.sweep.page(&self.store, after, page_size).await
    }
}

/// When a [`Sweep`]'s first pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstPass {
    /// At start-up, then every interval ([`run_every`]).
    AtStart,
    /// One interval after start-up ([`run_every_after_an_interval`]).
    AfterAnInterval,
}

/// What a [`Sweep`] walks: a service's due rows, one page (one transaction) at a time.
pub trait SweepPages: Send + Sync {
    /// What a page fails with.
    type Error: Display + Send;

    /// The job's name in the logs, e.g. `deadline sweep`.
    fn job(&self) -> &'static str;

    /// The rows a page takes at most.
    fn page_size(&self) -> i64 {
        500
    }

    /// When the first pass runs: by default one interval after start-up, for sweeps that
    /// raise each alert once (see [`run_every_after_an_interval`]).
    fn first_pass(&self) -> FirstPass {
        FirstPass::AfterAnInterval
    }

    /// One page: the rows after `after` (from the start when `None`), at most `page_size`.
    fn page(
        &self,
        after: Option<Uuid>,
        page_size: i64,
    ) -> impl Future<Output = Result<Page, Self::Error>> + Send;
}

/// A service's periodic sweep of its [`SweepPages`]: a pass over every page, every interval
/// until shutdown. Each service's sweep type is this with its own pages.
#[derive(Debug, Clone)]
pub struct Sweep<P> {
    pages: P,
    interval: Duration,
}

impl<P: SweepPages> Sweep<P> {
    /// The sweep of `pages` (or what converts into them, e.g. the service's store), run
    /// every `interval`.
    pub fn new(pages: impl Into<P>, interval: Duration) -> Self {
        Self {
            pages: pages.into(),
            interval,
        }
    }

    /// One pass over every page; returns the total the pages did (e.g. alerts raised).
    pub async fn sweep_once(&self) -> Result<usize, P::Error> {
        let page_size = self.pages.page_size();
        drain_pages(|after| self.pages.page(after, page_size)).await
    }

    /// Sweeps every interval until shutdown, the first pass as the pages say.
    pub async fn run(self, shutdown: CancellationToken) {
        let job = self.pages.job();
        match self.pages.first_pass() {
            FirstPass::AtStart => {
                run_every(job, self.interval, shutdown, || self.sweep_once()).await;
            }
            FirstPass::AfterAnInterval => {
                run_every_after_an_interval(job, self.interval, shutdown, || self.sweep_once())
                    .await;
            }
        }
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

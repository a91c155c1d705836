//! Periodic work (deadline sweeps, reminders), written once: a pass walks the work in
//! pages (each page locked with `SKIP LOCKED` by the service, so replicas share it), and a
//! loop runs passes at an interval until shutdown.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

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

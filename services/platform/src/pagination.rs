//! Keyset pagination tokens: opaque to clients, a (timestamp, id) position inside.
//!
//! Lists order by (time, id) and continue strictly after the last item of the previous
//! page, which stays fast on large tables (no OFFSET) and stable while rows are added. Every
//! list RPC reads its page through [`PageRequest`]: size and token parsed, one row more than
//! the page read, the page ended with the next page's token.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::ServiceError;

/// A position in a (time, id) ordered list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    /// The position of the row at `at` with `id`.
    pub fn new(at: DateTime<Utc>, id: Uuid) -> Self {
        Self { at, id }
    }

    /// The opaque token for the page after this item.
    pub fn encode(&self) -> String {
        hex::encode(format!("v1|{}|{}", self.at.timestamp_micros(), self.id))
    }

    /// Reads a token; empty means the first page.
    pub fn decode(token: &str, field: &str) -> Result<Option<Cursor>, ServiceError> {
        if token.is_empty() {
            return Ok(None);
        }
        let invalid = || ServiceError::invalid(field, "not a page token from a previous response");
        let bytes = hex::decode(token).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.split('|');
        if parts.next() != Some("v1") {
            return Err(invalid());
        }
        let micros: i64 = parts
            .next()
            .and_then(|part| part.parse().ok())
            .ok_or_else(invalid)?;
        let id: Uuid = parts
            .next()
            .and_then(|part| part.parse().ok())
            .ok_or_else(invalid)?;
        let at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
        Ok(Some(Cursor { at, id }))
    }
}

/// A position in a (text, id) ordered list (e.g. by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextCursor {
    pub key: String,
    pub id: Uuid,
}

impl TextCursor {
    pub fn encode(&self) -> String {
        hex::encode(format!("t1|{}|{}", self.id, self.key))
    }

    /// Reads a token; empty means the first page.
    pub fn decode(token: &str, field: &str) -> Result<Option<TextCursor>, ServiceError> {
        if token.is_empty() {
            return Ok(None);
        }
        let invalid = || ServiceError::invalid(field, "not a page token from a previous response");
        let text =
            String::from_utf8(hex::decode(token).map_err(|_| invalid())?).map_err(|_| invalid())?;
        let mut parts = text.splitn(3, '|');
        if parts.next() != Some("t1") {
            return Err(invalid());
        }
        let id: Uuid = parts
            .next()
            .and_then(|part| part.parse().ok())
            .ok_or_else(invalid)?;
        let key = parts.next().ok_or_else(invalid)?.to_string();
        Ok(Some(TextCursor { key, id }))
    }
}

/// A position a page token carries ([`Cursor`] or [`TextCursor`]).
pub trait PageCursor: Sized {
    /// The opaque token for the page after this position.
    fn encode(&self) -> String;
    /// Reads a token of request field `field`; empty means the first page.
    fn decode(token: &str, field: &str) -> Result<Option<Self>, ServiceError>;
}

impl PageCursor for Cursor {
    fn encode(&self) -> String {
        Cursor::encode(self)
    }

    fn decode(token: &str, field: &str) -> Result<Option<Self>, ServiceError> {
        Cursor::decode(token, field)
    }
}

impl PageCursor for TextCursor {
    fn encode(&self) -> String {
        TextCursor::encode(self)
    }

    fn decode(token: &str, field: &str) -> Result<Option<Self>, ServiceError> {
        TextCursor::decode(token, field)
    }
}

/// The page a list request asks for, from its `page_size` and `page_token` fields: every list
/// RPC has both, parsed the same way, and reads its page the same way
/// ([`PageRequest::read`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<C = Cursor> {
    /// Where the page starts: strictly after this position, or at the first row.
    pub after: Option<C>,
    /// The most rows the page holds (the request's size, clamped).
    pub limit: i64,
}

impl<C: PageCursor> PageRequest<C> {
    /// Reads a list request's `page_size` (0 is `default`, more than `max` is `max`) and
    /// `page_token` (empty is the first page), each refused on its own field.
    pub fn parse(
        requested_size: i32,
        page_token: &str,
        default: i64,
        max: i64,
    ) -> Result<Self, ServiceError> {
        Ok(Self {
            limit: page_size(requested_size, default, max, "page_size")?,
            after: C::decode(page_token, "page_token")?,
        })
    }

    /// Reads the page: `rows(after, limit)` fetches at most `limit` rows strictly after
    /// `after`, in the list's order, and is asked for one more than the page holds, to learn
    /// whether another page follows. The page's rows come back with the token of the page
    /// after the last one (its position by `cursor_of`), empty when this page is the last.
    pub async fn read<T, E, F>(
        self,
        rows: impl FnOnce(Option<C>, i64) -> F,
        cursor_of: impl FnOnce(&T) -> C,
    ) -> Result<(Vec<T>, String), ServiceError>
    where
        F: Future<Output = Result<Vec<T>, E>>,
        ServiceError: From<E>,
    {
        let mut rows = rows(self.after, self.limit + 1).await?;
        let next_page_token = finish_page(&mut rows, self.limit, cursor_of);
        Ok((rows, next_page_token))
    }
}

/// Ends a page read with one row more than `limit` (the lists' way to learn whether another
/// page follows): drops the extra row and returns the token of the page after the last row
/// kept (its position by `cursor_of`), or an empty token when this page is the last.
fn finish_page<T, C: PageCursor>(
    rows: &mut Vec<T>,
    limit: i64,
    cursor_of: impl FnOnce(&T) -> C,
) -> String {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() <= limit {
        return String::new();
    }
    rows.truncate(limit);
    rows.last()
        .map(|row| cursor_of(row).encode())
        .unwrap_or_default()
}

/// Clamps a requested page size: 0 means `default`, anything above `max` is `max`.
fn page_size(requested: i32, default: i64, max: i64, field: &str) -> Result<i64, ServiceError> {
    if requested < 0 {
        return Err(ServiceError::invalid(field, "must not be negative"));
    }
    if requested == 0 {
        return Ok(default);
    }
    Ok(i64::from(requested).min(max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn tokens_round_trip(micros in 0i64..4_000_000_000_000_000, id in any::<u128>()) {
            let cursor = Cursor { at: DateTime::from_timestamp_micros(micros).expect("in range"), id: Uuid::from_u128(id) };
            prop_assert_eq!(Cursor::decode(&cursor.encode(), "page_token").expect("valid"), Some(cursor));
        }

        #[test]
        fn text_tokens_round_trip(key in "\\PC{0,40}", id in any::<u128>()) {
            let cursor = TextCursor { key, id: Uuid::from_u128(id) };
            prop_assert_eq!(TextCursor::decode(&cursor.encode(), "page_token").expect("valid"), Some(cursor));
        }

        #[test]
        fn garbage_is_refused_not_panicked_on(token in "\\PC{1,60}") {
            let _ = Cursor::decode(&token, "page_token");
        }
    }

    #[test]
    fn a_full_page_ends_with_the_token_of_its_last_row() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_000_000).expect("in range");
        let cursor = |row: &u128| Cursor::new(at, Uuid::from_u128(*row));
        let mut rows = vec![1, 2, 3];
        assert_eq!(finish_page(&mut rows, 2, cursor), cursor(&2).encode());
        assert_eq!(rows, [1, 2]);
        let mut rows = vec![1, 2];
        assert_eq!(finish_page(&mut rows, 2, cursor), "");
        assert_eq!(rows, [1, 2]);
        let mut rows: Vec<u128> = vec![];
        assert_eq!(finish_page(&mut rows, 0, cursor), "");
    }

    #[test]
    fn a_page_request_reads_its_size_and_token() {
        let first = PageRequest::<Cursor>::parse(0, "", 50, 200).expect("valid");
        assert_eq!((first.after, first.limit), (None, 50));
        let at = DateTime::from_timestamp_micros(1_700_000_000_000_000).expect("in range");
        let token = Cursor::new(at, Uuid::from_u128(7)).encode();
        let next = PageRequest::<Cursor>::parse(1000, &token, 50, 200).expect("valid");
        assert_eq!(next.after, Some(Cursor::new(at, Uuid::from_u128(7))));
        assert_eq!(next.limit, 200);
        let refused =
            |size, token: &str| match PageRequest::<TextCursor>::parse(size, token, 50, 200) {
                Err(ServiceError::InvalidArgument(violations)) => violations[0].field.clone(),
                other => panic!("refused, not {other:?}"),
            };
        assert_eq!(refused(-1, ""), "page_size");
        assert_eq!(refused(10, "not-a-token"), "page_token");
    }

    #[tokio::test]
    async fn a_page_reads_one_row_more_than_it_keeps() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_000_000).expect("in range");
        let cursor = |row: &u128| Cursor::new(at, Uuid::from_u128(*row));
        let page = PageRequest::<Cursor>::parse(2, "", 50, 200).expect("valid");
        let (rows, next_page_token) = page
            .read(
                |after, limit| async move {
                    assert_eq!((after, limit), (None, 3));
                    Ok::<_, sqlx::Error>(vec![1, 2, 3])
                },
                cursor,
            )
            .await
            .expect("read");
        assert_eq!(rows, [1, 2]);
        assert_eq!(next_page_token, cursor(&2).encode());
        let page = PageRequest::<Cursor>::parse(2, "", 50, 200).expect("valid");
        let (rows, next_page_token) = page
            .read(|_, _| async { Ok::<_, sqlx::Error>(vec![1, 2]) }, cursor)
            .await
            .expect("read");
        assert_eq!((rows, next_page_token), (vec![1, 2], String::new()));
    }

    #[test]
    fn sizes_are_clamped() {
        assert_eq!(page_size(0, 50, 200, "page_size").expect("ok"), 50);
        assert_eq!(page_size(1000, 50, 200, "page_size").expect("ok"), 200);
        assert!(page_size(-1, 50, 200, "page_size").is_err());
    }
}

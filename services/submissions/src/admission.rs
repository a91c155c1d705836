//! Admission of SubmitAgencyReport streams: each (partnership, agency) may have a few open at
//! once in this process, so that one agency's system, opening streams and sending nothing,
//! cannot take the service's time and memory from every other agency.
//!
//! The count is in process (per replica): a stream holds nothing in the database while it
//! waits for its client, so nothing shared needs to count it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Whose streams are counted together: the partnership and the agency.
type Caller = (String, String);

/// The open streams of each agency, and how many one may have.
#[derive(Debug)]
pub struct StreamSlots {
    /// Streams one agency may have open at once.
    limit: u32,
    /// Open streams by caller; a caller with none has no entry, so the map stays as small
    /// as the set of agencies streaming right now.
    open: Mutex<HashMap<Caller, u32>>,
}

/// One open stream's place, given back when dropped (whichever way the stream ends).
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    caller: Caller,
}

impl StreamSlots {
    pub fn new(limit: u32) -> Arc<Self> {
        Arc::new(Self {
            limit,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Streams one agency may have open at once.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// A place for one more stream of `agency_id` in `partnership`, or `None` when it has
    /// [`StreamSlots::limit`] open already.
    pub fn take(self: &Arc<Self>, partnership: &str, agency_id: &str) -> Option<StreamSlot> {
        let caller = (partnership.to_string(), agency_id.to_string());
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(caller.clone()).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            slots: Arc::clone(self),
            caller,
        })
    }

    /// Streams `agency_id` of `partnership` has open.
    pub fn open(&self, partnership: &str, agency_id: &str) -> u32 {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&(partnership.to_string(), agency_id.to_string()))
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.caller) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.caller);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_agency_has_its_own_places_given_back_on_drop() {
        let slots = StreamSlots::new(2);
        let first = slots.take("southvale", "police").expect("first");
        let second = slots.take("southvale", "police").expect("second");
        assert!(
            slots.take("southvale", "police").is_none(),
            "over the limit"
        );
        assert!(slots.take("southvale", "gp").is_some(), "another agency");
        assert!(
            slots.take("northmoor", "police").is_some(),
            "the same agency id in another partnership"
        );
        drop(first);
        let third = slots
            .take("southvale", "police")
            .expect("a place given back");
        drop((second, third));
        assert_eq!(slots.open("southvale", "police"), 0);
        assert!(
            slots
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty(),
            "no entry is kept for agencies without streams"
        );
    }
}

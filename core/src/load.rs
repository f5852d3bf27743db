//! Load shedding: a bound on the database work that runs at once, per kind of request.
//!
//! A request that needs the database first takes a slot of its kind ([`Load::admit`]). When all
//! slots are taken it waits in a short queue; when the queue is full, or no slot frees up within
//! `load.queue_wait_ms`, it is answered at once with 503 and `Retry-After`. So an overload makes
//! some database-bound requests fail fast instead of making every request slow — cached tiles
//! and imagery, which need no slot, keep their speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::LoadConfig;
use crate::problem::Problem;

/// The kinds of database work, each with its own slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Feature queries.
    Items,
    /// Vector tiles rendered on a cache miss.
    TileRender,
    /// Downloads.
    Download,
    /// Writes of citizens and staff.
    Write,
}

impl Work {
    fn label(self) -> &'static str {
        match self {
            Self::Items => "items",
            Self::TileRender => "tile_render",
            Self::Download => "download",
            Self::Write => "write",
        }
    }
}

#[derive(Debug)]
struct Gate {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
}

/// The slots of every kind; cheap to clone.
#[derive(Debug, Clone)]
pub struct Load {
    gates: Arc<[Gate; 4]>,
    queue: usize,
    wait: Duration,
    retry_after: u32,
}

/// A taken slot; released when dropped.
#[derive(Debug)]
pub struct Slot(#[allow(dead_code)] OwnedSemaphorePermit);

impl Load {
    /// Slots as configured (at least one per kind).
    #[must_use]
    pub fn new(config: &LoadConfig) -> Self {
        let gate = |n: usize| Gate {
            slots: Arc::new(Semaphore::new(n.max(1))),
            waiting: AtomicUsize::new(0),
        };
        Self {
            gates: Arc::new([
                gate(config.items),
                gate(config.tile_renders),
                gate(config.downloads),
                gate(config.writes),
            ]),
            queue: config.queue,
            wait: Duration::from_millis(config.queue_wait_ms),
            retry_after: config.retry_after_secs.max(1),
        }
    }

    fn gate(&self, work: Work) -> &Gate {
        &self.gates[match work {
            Work::Items => 0,
            Work::TileRender => 1,
            Work::Download => 2,
            Work::Write => 3,
        }]
    }

    /// A slot for `work`, or a 503 with `Retry-After` when the server is saturated.
    pub async fn admit(&self, work: Work) -> Result<Slot, Problem> {
        let gate = self.gate(work);
        if let Ok(permit) = gate.slots.clone().try_acquire_owned() {
            return Ok(Slot(permit));
        }
        if gate.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            gate.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(self.shed(work));
        }
        let result = tokio::time::timeout(self.wait, gate.slots.clone().acquire_owned()).await;
        gate.waiting.fetch_sub(1, Ordering::AcqRel);
        match result {
            Ok(Ok(permit)) => Ok(Slot(permit)),
            _ => Err(self.shed(work)),
        }
    }

    fn shed(&self, work: Work) -> Problem {
        metrics::counter!("stadtkarte_shed_requests_total", "kind" => work.label()).increment(1);
        Problem::unavailable(
            "Der Server ist gerade ausgelastet; bitte gleich noch einmal versuchen. / The server is busy right now; please retry shortly.",
        )
        .retry_after(self.retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_sheds_at_once_with_retry_after() {
        let load = Load::new(&LoadConfig {
            items: 1,
            queue: 1,
            queue_wait_ms: 200,
            retry_after_secs: 3,
            ..LoadConfig::default()
        });
        let held = load.admit(Work::Items).await.unwrap();
        // One may wait…
        let waiting = tokio::spawn({
            let load = load.clone();
            async move { load.admit(Work::Items).await.map(drop) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        // …the next is shed without waiting.
        let started = std::time::Instant::now();
        let shed = load.admit(Work::Items).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(100));
        assert_eq!(shed.status.as_u16(), 503);
        assert_eq!(shed.retry_after_secs, Some(3));
        // Other kinds are not affected.
        assert!(load.admit(Work::TileRender).await.is_ok());
        drop(held);
        assert!(
            waiting.await.unwrap().is_ok(),
            "the waiting one got the freed slot"
        );
    }

    #[tokio::test]
    async fn a_wait_that_is_too_long_is_shed() {
        let load = Load::new(&LoadConfig {
            writes: 1,
            queue_wait_ms: 50,
            ..LoadConfig::default()
        });
        let _held = load.admit(Work::Write).await.unwrap();
        assert!(load.admit(Work::Write).await.is_err());
    }
}

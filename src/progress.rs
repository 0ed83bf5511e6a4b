//! Progress of long work, reported to whoever watches: the library says what it is doing and
//! how far it got; the binary draws a bar (`indicatif`), a test or an embedding program may
//! count, log or ignore it. Nothing reported here changes a result.

use std::fmt;
use std::sync::Arc;

/// Receives progress reports. Called from worker threads, so implementations must be cheap and
/// thread-safe; every method does nothing by default.
pub trait Progress: Send + Sync {
    /// A new stage of the work begins (`"replicate 1/2: laying out gallery"`).
    fn stage(&self, _message: &str) {}
    /// What the units of the following reports count (`"tiles"`, `"detections"`).
    fn set_unit(&self, _unit: &str) {}
    /// The whole work (of this unit) is `units` units long; a display restarts its rate and
    /// time estimate here.
    fn set_length(&self, _units: u64) {}
    /// `done` units were already done before this process started (a resumed run).
    fn set_position(&self, _done: u64) {}
    /// `units` more units are done.
    fn advance(&self, _units: u64) {}
    /// The work is over; a display can clear itself.
    fn finish(&self) {}
}

impl fmt::Debug for dyn Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress")
    }
}

/// Where a run reports its progress: nowhere (the default) or a [`Progress`] receiver.
pub type ProgressSink = Option<Arc<dyn Progress>>;

/// Reports to `sink`, if there is one.
pub(crate) fn report(sink: &ProgressSink) -> &dyn Progress {
    match sink {
        Some(p) => p.as_ref(),
        None => &Silent,
    }
}

/// Ignores every report.
struct Silent;

impl Progress for Silent {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Count(AtomicU64);
    impl Progress for Count {
        fn advance(&self, units: u64) {
            self.0.fetch_add(units, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_sink_receives_reports_and_none_ignores_them() {
        let count = Arc::new(Count(AtomicU64::new(0)));
        let sink: ProgressSink = Some(count.clone());
        report(&sink).advance(3);
        report(&None).advance(5);
        assert_eq!(count.0.load(Ordering::Relaxed), 3);
        assert_eq!(format!("{:?}", sink), "Some(Progress)");
    }
}

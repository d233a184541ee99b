//! Notices configuration changes made by other processes (`switchyard config apply`, a restore):
//! a `notify` watcher on the data dir, debounced, plus a slow periodic check in case the
//! filesystem drops events. Both only *ask* for a reload; the reloader skips it when the store's
//! revision is unchanged, so our own writes and checkpoints cost one cheap query.

use std::path::Path;
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::reload::{Reloader, Trigger};
use crate::store::DB_FILE;

/// How long to wait for a burst of file events (a transaction touches the WAL several times) to
/// settle before reloading.
const DEBOUNCE: Duration = Duration::from_millis(50);

/// After a burst of events, the revision is checked again at these delays. A writer in another
/// process may signal the file change before its commit is visible to readers (the WAL index is
/// updated after the write, and after an fsync under `synchronous=FULL`), so one check right after
/// the event can still see the old revision.
const RECHECKS: [Duration; 2] = [Duration::from_millis(250), Duration::from_millis(750)];

/// How often to check the revision even without file events.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// Starts watching `data_dir`. The returned watcher must be kept alive for events to flow.
pub fn spawn(data_dir: &Path, reloader: Reloader) -> notify::Result<RecommendedWatcher> {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        let ours = event.paths.iter().any(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(DB_FILE))
        });
        if ours {
            // A full channel means a reload is already pending, which covers this event too.
            let _ = tx.try_send(());
        }
    })?;
    watcher.watch(data_dir, RecursiveMode::NonRecursive)?;

    let debounced = reloader.clone();
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            tokio::time::sleep(DEBOUNCE).await;
            while rx.try_recv().is_ok() {}
            debounced.request(Trigger::Watcher);
            let rechecks = debounced.clone();
            tokio::spawn(async move {
                for delay in RECHECKS {
                    tokio::time::sleep(delay).await;
                    rechecks.request(Trigger::Watcher);
                }
            });
        }
    });
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(POLL_EVERY);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            reloader.request(Trigger::Poll);
        }
    });
    Ok(watcher)
}

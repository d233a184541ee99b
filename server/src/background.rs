//! One low-priority thread for the gateway's own CPU-heavy chores (compiling a new snapshot,
//! freeing an old one), so that they never take CPU from the threads serving requests.
//!
//! On Linux the thread runs under `SCHED_IDLE`: the kernel gives it the CPU only when request
//! threads do not want it (with a small share under sustained load, so it is never starved).
//! Without this, on a gateway pinned to one core a 10 ms reload would hold requests up for a
//! scheduler slice of several milliseconds.

use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

fn worker() -> Option<&'static Sender<Job>> {
    static WORKER: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    WORKER
        .get_or_init(|| {
            let (tx, rx) = channel::<Job>();
            let spawned = std::thread::Builder::new()
                .name("switchyard-background".into())
                .spawn(move || {
                    lower_priority();
                    for job in rx {
                        job();
                    }
                });
            spawned.ok().map(|_| tx)
        })
        .as_ref()
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    if let Err(error) = set_thread_priority_and_policy(
        thread_native_id(),
        thread_priority::ThreadPriority::Min,
        idle,
    ) {
        tracing::debug!(?error, "cannot lower the background thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {
    let _ = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min);
}

/// Runs `job` on the background thread and waits for its result; a panic in the job becomes an
/// error. Falls back to tokio's blocking pool if the thread could not be started.
pub async fn run<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
            .map_err(|_| "a background job panicked".to_owned());
        let _ = tx.send(result);
    });
    match worker() {
        Some(worker) => {
            if let Err(failed) = worker.send(job) {
                tokio::task::spawn_blocking(failed.0);
            }
        }
        None => {
            tokio::task::spawn_blocking(job);
        }
    }
    rx.await
        .map_err(|_| "the background job was dropped".to_owned())?
}

/// Drops `value` on the background thread (or here, if that thread is gone).
pub fn drop_later<T: Send + 'static>(value: T) {
    let job: Job = Box::new(move || drop(value));
    if let Some(worker) = worker() {
        let _ = worker.send(job);
    }
}

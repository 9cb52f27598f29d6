//! The password-hashing pool: a few dedicated, low-priority threads with a bounded queue.
//!
//! argon2id is made to be expensive (19 MiB and tens of milliseconds of a core per hash).
//! On the async runtime or the shared blocking pool, a storm of sign-ins would take every
//! core from the requests that do not hash. Here hashing gets half the cores (at least
//! one thread), each thread hashing at most half of the time (it rests as long as each
//! hash took), at the lowest scheduling priority, behind a bounded queue: when the queue
//! is full, a sign-in is refused at once (RATE_LIMITED with `retryAfter`) instead of
//! waiting without end. So hashing takes at most a quarter of the machine.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use tokio::sync::{Semaphore, oneshot};

use crate::error::{AppError, AppResult};

/// Hashes waiting for a thread, beyond the ones running, before sign-ins are refused.
pub const QUEUE_PER_THREAD: usize = 16;
/// Seconds a refused sign-in is told to wait.
pub const RETRY_AFTER_SECS: u64 = 1;
/// The nice value of hashing threads (0 is normal, 19 the lowest priority).
const NICENESS: i32 = 19;

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    jobs: mpsc::Sender<Job>,
    /// One permit per running or queued hash.
    capacity: Semaphore,
    /// Hashes refused because the queue was full.
    refused: AtomicU64,
}

/// What the hashing threads are doing, for `/metrics`. The pool is one per process (it
/// shares the process's cores), and so are these figures.
#[derive(Debug, Clone, Copy)]
pub struct HashingStats {
    /// Hashes waiting or running now.
    pub queued: usize,
    /// Hashes refused since the process started.
    pub refused: u64,
}

pub fn stats() -> HashingStats {
    let pool = &*POOL;
    HashingStats {
        queued: capacity() - pool.capacity.available_permits(),
        refused: pool.refused.load(Ordering::Relaxed),
    }
}

fn capacity() -> usize {
    threads() * (1 + QUEUE_PER_THREAD)
}

/// Threads that hash: half the cores, at least one.
pub fn threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores / 2).max(1)
}

static POOL: LazyLock<Pool> = LazyLock::new(|| {
    let (jobs, inbox) = mpsc::channel::<Job>();
    let inbox = std::sync::Arc::new(std::sync::Mutex::new(inbox));
    let n = threads();
    for i in 0..n {
        let inbox = inbox.clone();
        std::thread::Builder::new()
            .name(format!("password-hash-{i}"))
            .spawn(move || {
                lower_priority();
                loop {
                    let job = inbox.lock().expect("hasher inbox").recv();
                    let Ok(job) = job else { return };
                    let started = std::time::Instant::now();
                    job();
                    release_freed_memory();
                    // Rest as long as the hash took: a thread hashes at most half the time.
                    std::thread::sleep(started.elapsed());
                }
            })
            .expect("a password-hashing thread starts");
    }
    Pool {
        jobs,
        capacity: Semaphore::new(capacity()),
        refused: AtomicU64::new(0),
    }
});

/// An argon2 hash works in ~19 MiB, freed when it ends: hands such pages back to the OS at
/// once instead of keeping them resident until the allocator next gets round to it, so
/// memory stays low between sign-ins. (A no-op where mimalloc is not the allocator.)
pub fn release_freed_memory() {
    // SAFETY: mi_collect only releases memory that is no longer in use.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// Lowers the calling thread's priority (on Linux, `setpriority` with `who = 0` applies to
/// the calling thread only), so other requests win the cores when both want them.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority takes plain integers and only affects the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, NICENESS);
    }
}

/// Runs `work` on a hashing thread; RATE_LIMITED at once when the queue is full.
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    let pool = &*POOL;
    let Ok(permit) = pool.capacity.try_acquire() else {
        pool.refused.fetch_add(1, Ordering::Relaxed);
        return Err(AppError::RateLimited {
            retry_after_secs: RETRY_AFTER_SECS,
        });
    };
    let (done, result) = oneshot::channel();
    pool.jobs
        .send(Box::new(move || {
            let _ = done.send(work());
        }))
        .map_err(|_| AppError::from(anyhow::anyhow!("the password-hashing threads stopped")))?;
    let out = result
        .await
        .map_err(|_| AppError::from(anyhow::anyhow!("a password-hashing job was dropped")));
    drop(permit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_frees_up_as_hashes_finish() {
        let capacity = threads() * (1 + QUEUE_PER_THREAD);
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = std::sync::Arc::new(std::sync::Mutex::new(gate));
        // Fill every running and queued place with a job that waits for the test.
        let mut waiting = Vec::new();
        for _ in 0..capacity {
            let gate = gate.clone();
            waiting.push(tokio::spawn(run(move || {
                let _ = gate.lock().unwrap().recv();
            })));
        }
        // Let the spawned tasks take their permits.
        while POOL.capacity.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        match run(|| ()).await {
            Err(AppError::RateLimited { retry_after_secs }) => {
                assert_eq!(retry_after_secs, RETRY_AFTER_SECS)
            }
            other => panic!("expected RATE_LIMITED, got {other:?}"),
        }
        for _ in 0..capacity {
            release.send(()).unwrap();
        }
        for w in waiting {
            w.await.unwrap().unwrap();
        }
        assert_eq!(run(|| 7).await.unwrap(), 7);
    }
}

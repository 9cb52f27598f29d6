//! Metric ingest with group commit: `logMetrics` calls that arrive while the database is
//! busy with earlier ones wait in a queue and are then written together, in one statement
//! and one commit.
//!
//! - No call waits for company. A writer takes whatever is queued the moment it is free,
//!   so a lone call is written at once, and under load each statement carries many calls.
//! - A call is answered only after the statement that wrote it committed, so an
//!   acknowledged point survives a crash exactly as before.
//! - Each call stays all or nothing, and one call's failure is not the others': a batch
//!   the database refuses is written again call by call, each answered on its own.
//! - Limits: at most [`WRITERS`] statements in flight, [`MAX_CALLS_PER_STATEMENT`] calls
//!   in one, and [`QUEUE_CALLS`] calls waiting; a call that finds the queue full waits for
//!   room (back-pressure on the client, not memory).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;

use crate::db::Db;
use crate::db::runs::{self, MetricWrite, NewPoint};
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::telemetry::SQL_STATEMENTS;

/// Statements in flight at once. Two keep the database busy while the next batch gathers;
/// more only split the same calls into smaller batches (docs/performance.md).
pub const WRITERS: usize = 2;
/// Calls written by one statement: up to 16,000 points, as `logMetrics` takes 1,000.
pub const MAX_CALLS_PER_STATEMENT: usize = 16;
/// Calls waiting for a writer before the next one waits for room.
pub const QUEUE_CALLS: usize = 256;

/// The queue into the writers; cloning shares it.
#[derive(Clone)]
pub struct MetricWriter {
    queue: mpsc::Sender<Call>,
}

/// What a call was answered: whether its run was found (and writable), and its points back.
pub struct Written {
    pub found: bool,
    pub points: Vec<NewPoint>,
}

/// Where batches go: the database ([`runs::log_metrics`]), or a double in unit tests.
pub trait Store: Clone + Send + Sync + 'static {
    /// Writes the calls in one statement; per call, whether its run was found.
    fn write<'a>(
        &'a self,
        writes: &'a [MetricWrite<'a>],
    ) -> impl Future<Output = AppResult<Vec<bool>>> + Send + 'a;
}

impl Store for Db {
    fn write<'a>(
        &'a self,
        writes: &'a [MetricWrite<'a>],
    ) -> impl Future<Output = AppResult<Vec<bool>>> + Send + 'a {
        runs::log_metrics(self, writes)
    }
}

struct Call {
    run_id: Uuid,
    writable: Option<Vec<Uuid>>,
    points: Vec<NewPoint>,
    answer: oneshot::Sender<AppResult<Written>>,
    /// The SQL statement counter of the call's request, when statements are counted.
    statements: Option<Arc<AtomicU64>>,
}

impl MetricWriter {
    /// Starts the writers; they stop when the last clone of this writer is dropped.
    pub fn start(store: impl Store, metrics: Metrics) -> Self {
        let (queue, calls) = mpsc::channel(QUEUE_CALLS);
        let calls = Arc::new(Mutex::new(calls));
        for _ in 0..WRITERS {
            tokio::spawn(write_batches(store.clone(), metrics.clone(), calls.clone()));
        }
        MetricWriter { queue }
    }

    /// Writes `points` to the run when it exists and (with `writable`) lies in one of
    /// those projects, as [`runs::log_metrics`] does, once the statement carrying it
    /// committed.
    pub async fn write(
        &self,
        run_id: Uuid,
        writable: Option<Vec<Uuid>>,
        points: Vec<NewPoint>,
    ) -> AppResult<Written> {
        let (answer, answered) = oneshot::channel();
        let call = Call {
            run_id,
            writable,
            points,
            answer,
            statements: SQL_STATEMENTS.try_with(Arc::clone).ok(),
        };
        self.queue
            .send(call)
            .await
            .map_err(|_| stopped("the metric writers have stopped"))?;
        answered
            .await
            .map_err(|_| stopped("a metric writer stopped before answering"))?
    }
}

fn stopped(what: &str) -> AppError {
    anyhow::anyhow!("{what}").into()
}

/// One writer: takes every call waiting (up to a statement's worth), writes them, answers.
async fn write_batches(
    store: impl Store,
    metrics: Metrics,
    calls: Arc<Mutex<mpsc::Receiver<Call>>>,
) {
    loop {
        let batch = {
            let mut calls = calls.lock().await;
            let Some(first) = calls.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_CALLS_PER_STATEMENT {
                match calls.try_recv() {
                    Ok(call) => batch.push(call),
                    Err(_) => break,
                }
            }
            batch
        };
        metrics.ingest_statement(batch.len());
        write_batch(&store, batch).await;
    }
}

async fn write_batch(store: &impl Store, batch: Vec<Call>) {
    let found = match counted(&batch, store.write(&writes(&batch))).await {
        Ok(found) => found,
        // The database is away: every call would fail alike, so each hears it now.
        Err(err @ AppError::Unavailable(_)) => return answer_all(batch, &err),
        Err(err) if batch.len() == 1 => return answer_all(batch, &err),
        // Something in one call (a run deleted meanwhile, a deadlock) refused the whole
        // statement: each call is written on its own and hears only of its own fate.
        Err(err) => {
            tracing::warn!(error = %err, calls = batch.len(), "a metric batch was refused; writing its calls one by one");
            for call in batch {
                let alone = std::slice::from_ref(&call);
                let found = counted(alone, store.write(&writes(alone))).await;
                answer(call, found.map(|found| found[0]));
            }
            return;
        }
    };
    for (call, found) in batch.into_iter().zip(found) {
        answer(call, Ok(found));
    }
}

/// Runs `write`, counting the statements it ran in each call's request too (see
/// `telemetry::SQL_STATEMENTS`): a call costs the statements that wrote it.
async fn counted<T>(calls: &[Call], write: impl Future<Output = T>) -> T {
    let ran = Arc::new(AtomicU64::new(0));
    let out = SQL_STATEMENTS.scope(ran.clone(), write).await;
    let ran = ran.load(Ordering::Relaxed);
    for statements in calls.iter().filter_map(|call| call.statements.as_ref()) {
        statements.fetch_add(ran, Ordering::Relaxed);
    }
    out
}

fn writes(batch: &[Call]) -> Vec<MetricWrite<'_>> {
    batch
        .iter()
        .map(|call| MetricWrite {
            run_id: call.run_id,
            writable: call.writable.as_deref(),
            points: &call.points,
        })
        .collect()
}

fn answer_all(batch: Vec<Call>, err: &AppError) {
    for call in batch {
        answer(call, Err(err.clone()));
    }
}

fn answer(call: Call, found: AppResult<bool>) {
    let written = found.map(|found| Written {
        found,
        points: call.points,
    });
    // A caller that went away (its request cancelled) needs no answer; its points are
    // written all the same, as a statement already sent would be.
    let _ = call.answer.send(written);
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as SyncMutex;
    use std::time::Duration;

    use chrono::DateTime;
    use tokio::sync::Semaphore;
    use tokio::task::JoinHandle;

    use super::*;

    /// A store whose statements wait at a gate the test opens, recording each batch's
    /// runs, and refusing a batch as `refuse` says.
    #[derive(Clone)]
    struct Gated(Arc<GatedInner>);

    struct GatedInner {
        gate: Semaphore,
        batches: SyncMutex<Vec<Vec<Uuid>>>,
        waiting: std::sync::atomic::AtomicUsize,
        refuse: fn(&[MetricWrite<'_>]) -> Option<AppError>,
    }

    impl Gated {
        fn new(refuse: fn(&[MetricWrite<'_>]) -> Option<AppError>) -> Self {
            Gated(Arc::new(GatedInner {
                gate: Semaphore::new(0),
                batches: SyncMutex::default(),
                waiting: Default::default(),
                refuse,
            }))
        }

        fn batches(&self) -> Vec<Vec<Uuid>> {
            self.0.batches.lock().unwrap().clone()
        }

        fn waiting(&self) -> usize {
            self.0.waiting.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    impl Store for Gated {
        async fn write(&self, writes: &[MetricWrite<'_>]) -> AppResult<Vec<bool>> {
            use std::sync::atomic::Ordering::SeqCst;
            self.0.waiting.fetch_add(1, SeqCst);
            self.0.gate.acquire().await.unwrap().forget();
            self.0.waiting.fetch_sub(1, SeqCst);
            let runs = writes.iter().map(|w| w.run_id).collect();
            self.0.batches.lock().unwrap().push(runs);
            match (self.0.refuse)(writes) {
                Some(err) => Err(err),
                None => Ok(writes.iter().map(|w| !w.run_id.is_nil()).collect()),
            }
        }
    }

    fn never(_: &[MetricWrite<'_>]) -> Option<AppError> {
        None
    }

    fn points(n: i64) -> Vec<NewPoint> {
        (0..n)
            .map(|step| NewPoint {
                key: "loss".into(),
                value: 0.5,
                step,
                timestamp: DateTime::UNIX_EPOCH,
            })
            .collect()
    }

    fn send(writer: &MetricWriter, run: Uuid, n: i64) -> JoinHandle<AppResult<Written>> {
        let writer = writer.clone();
        tokio::spawn(async move { writer.write(run, None, points(n)).await })
    }

    async fn until(what: &str, holds: impl Fn() -> bool) {
        for _ in 0..5000 {
            if holds() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("waited 5 s for {what}");
    }

    /// Both writers busy, `queued` more calls waiting: the calls sent so far, in order.
    async fn busy_writers_and_queue(
        store: &Gated,
        writer: &MetricWriter,
        queued: &[Uuid],
    ) -> Vec<JoinHandle<AppResult<Written>>> {
        let mut sent = Vec::new();
        for busy in 1..=WRITERS {
            sent.push(send(writer, Uuid::new_v4(), 1));
            until("a writer in a statement", || store.waiting() == busy).await;
        }
        for (i, &run) in queued.iter().enumerate() {
            sent.push(send(writer, run, i as i64 + 1));
        }
        until("the calls queued", || {
            writer.queue.capacity() == QUEUE_CALLS - queued.len()
        })
        .await;
        sent
    }

    #[tokio::test]
    async fn calls_that_wait_together_are_written_by_one_statement_and_each_answered() {
        let store = Gated::new(never);
        let writer = MetricWriter::start(store.clone(), Metrics::default());
        let queued: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        let mut sent = busy_writers_and_queue(&store, &writer, &queued).await;
        store.0.gate.add_permits(100);
        for (i, call) in sent.drain(WRITERS..).enumerate() {
            let written = call.await.unwrap().unwrap();
            assert!(written.found);
            assert_eq!(
                written.points,
                points(i as i64 + 1)[..],
                "call {i}'s own points"
            );
        }
        let batches = store.batches();
        assert_eq!(batches.len(), WRITERS + 1, "{batches:?}");
        assert!(
            batches.contains(&queued),
            "the waiting calls, in order, in one statement"
        );
        let missing = send(&writer, Uuid::nil(), 1);
        assert!(!missing.await.unwrap().unwrap().found, "a run not found");
        assert_eq!(store.batches().last().unwrap(), &[Uuid::nil()]);
    }

    #[tokio::test]
    async fn a_batch_refused_is_written_call_by_call_and_only_the_bad_call_fails() {
        fn poisoned(writes: &[MetricWrite<'_>]) -> Option<AppError> {
            writes
                .iter()
                .any(|w| w.points.len() == 2)
                .then(|| AppError::Conflict("refused".into()))
        }
        let store = Gated::new(poisoned);
        let writer = MetricWriter::start(store.clone(), Metrics::default());
        let queued: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        let mut sent = busy_writers_and_queue(&store, &writer, &queued).await;
        store.0.gate.add_permits(100);
        let answers: Vec<_> = futures_util::future::join_all(sent.drain(WRITERS..)).await;
        assert!(answers[0].as_ref().unwrap().as_ref().unwrap().found);
        assert!(matches!(answers[1], Ok(Err(AppError::Conflict(_)))));
        assert!(answers[2].as_ref().unwrap().as_ref().unwrap().found);
        let batches = store.batches();
        assert_eq!(batches.len(), WRITERS + 1 + queued.len(), "{batches:?}");
        let at = |runs: &[Uuid]| batches.iter().position(|b| b == runs).unwrap();
        let together = at(&queued);
        for run in &queued {
            assert!(
                at(&[*run]) > together,
                "{run} written alone after the batch: {batches:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_database_away_fails_every_call_of_the_batch_without_retrying_each() {
        fn away(_: &[MetricWrite<'_>]) -> Option<AppError> {
            Some(AppError::Unavailable("the database is unavailable".into()))
        }
        let store = Gated::new(away);
        let writer = MetricWriter::start(store.clone(), Metrics::default());
        let queued: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        let mut sent = busy_writers_and_queue(&store, &writer, &queued).await;
        store.0.gate.add_permits(100);
        for call in sent.drain(..) {
            assert!(matches!(call.await, Ok(Err(AppError::Unavailable(_)))));
        }
        assert_eq!(
            store.batches().len(),
            WRITERS + 1,
            "no call written again alone"
        );
    }
}

//! Live events: what a write announces after it commits, delivered to the subscribers of
//! its topic (a run, an experiment or a model) on every server process.
//!
//! With `REDIS_URL`, a write publishes to the topic's Redis channel and every process that
//! has local subscribers for that topic is subscribed to it (one channel per topic, never
//! one for the world); without Redis, events stay in the process. Either way the local
//! fan-out is a bounded broadcast channel per topic: a writer never waits on a subscriber,
//! and a subscriber that falls `BUFFER` events behind is told so and ended.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use crate::db::runs::NewPoint;

/// Events a subscriber may fall behind by before its subscription ends.
pub const BUFFER: usize = 1024;

/// Where events are published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Topic {
    Run(Uuid),
    Experiment(Uuid),
    Model(Uuid),
}

impl Topic {
    fn channel(self, prefix: &str) -> String {
        match self {
            Topic::Run(id) => format!("{prefix}events:run:{id}"),
            Topic::Experiment(id) => format!("{prefix}events:experiment:{id}"),
            Topic::Model(id) => format!("{prefix}events:model:{id}"),
        }
    }
}

/// What changed in a run's experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunChange {
    Created,
    Updated,
    Deleted,
}

/// What changed in a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelChange {
    VersionCreated,
    StageChanged,
    AliasSet,
    AliasDeleted,
}

/// An event, as published on its topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// One `logMetrics` call's points.
    Metrics { run_id: Uuid, points: Vec<NewPoint> },
    /// A run's status, name, params or tags changed (or it was deleted).
    RunUpdated { run_id: Uuid, deleted: bool },
    /// A run of the experiment was created, updated or deleted.
    ExperimentRun { run_id: Uuid, change: RunChange },
    /// A model's versions, stages or aliases changed.
    Model {
        version_id: Option<Uuid>,
        alias: Option<String>,
        change: ModelChange,
    },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    topic: Topic,
    event: Event,
}

type Senders = Arc<Mutex<HashMap<Topic, broadcast::Sender<Arc<Event>>>>>;

/// The process's event bus.
#[derive(Clone)]
pub struct Events {
    senders: Senders,
    redis: Option<RedisBus>,
}

#[derive(Clone)]
struct RedisBus {
    publisher: redis::aio::ConnectionManager,
    prefix: String,
    /// Tells the listener task which channels to (un)subscribe.
    control: mpsc::UnboundedSender<Control>,
}

enum Control {
    Subscribe(Topic),
    Unsubscribe(Topic),
}

/// A subscription to one topic; dropping it lets the topic's channel go when it was the
/// last one in this process.
pub struct Subscription {
    pub receiver: broadcast::Receiver<Arc<Event>>,
    topic: Topic,
    events: Events,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.events.release(self.topic);
    }
}

impl Events {
    /// In-process events only (a single instance).
    pub fn in_process() -> Self {
        Events {
            senders: Senders::default(),
            redis: None,
        }
    }

    /// Events through Redis at `url`, so every process sees every write. Connects lazily:
    /// a Redis that is down only delays cross-process delivery (local delivery goes on).
    pub fn connect(url: Option<&str>, prefix: &str) -> anyhow::Result<Self> {
        let Some(url) = url else {
            return Ok(Self::in_process());
        };
        let client = redis::Client::open(url)?;
        let publisher = crate::cache::lazy_connection(client.clone())?;
        let (control, requests) = mpsc::unbounded_channel();
        let senders = Senders::default();
        tokio::spawn(listen(
            client,
            prefix.to_string(),
            senders.clone(),
            requests,
        ));
        Ok(Events {
            senders,
            redis: Some(RedisBus {
                publisher,
                prefix: prefix.to_string(),
                control,
            }),
        })
    }

    /// Announces an event; call it after the write committed. Never waits on subscribers.
    pub async fn publish(&self, topic: Topic, event: Event) {
        if let Some(redis) = &self.redis {
            let envelope = Envelope { topic, event };
            let payload = serde_json::to_string(&envelope).expect("events serialize");
            let mut conn = redis.publisher.clone();
            let sent = tokio::time::timeout(
                crate::cache::CALL_BUDGET,
                redis::cmd("PUBLISH")
                    .arg(topic.channel(&redis.prefix))
                    .arg(&payload)
                    .query_async::<i64>(&mut conn),
            )
            .await;
            if matches!(sent, Ok(Ok(_))) {
                return; // this process hears it back through its own subscription
            }
            tracing::warn!(
                ?topic,
                "redis did not take the event: delivering it in this process only"
            );
            self.deliver(topic, Arc::new(envelope.event));
            return;
        }
        self.deliver(topic, Arc::new(event));
    }

    fn deliver(&self, topic: Topic, event: Arc<Event>) {
        let senders = self.senders.lock().expect("events lock");
        if let Some(sender) = senders.get(&topic) {
            // Err means no receiver is left: nothing to do.
            let _ = sender.send(event);
        }
    }

    /// Subscribes to a topic's events from now on.
    pub fn subscribe(&self, topic: Topic) -> Subscription {
        let receiver = {
            let mut senders = self.senders.lock().expect("events lock");
            let sender = senders.entry(topic).or_insert_with(|| {
                if let Some(redis) = &self.redis {
                    let _ = redis.control.send(Control::Subscribe(topic));
                }
                broadcast::channel(BUFFER).0
            });
            sender.subscribe()
        };
        Subscription {
            receiver,
            topic,
            events: self.clone(),
        }
    }

    fn release(&self, topic: Topic) {
        let mut senders = self.senders.lock().expect("events lock");
        // Called from the subscription's `drop`, before its receiver is dropped: a count
        // of one is that receiver alone. (New subscribers take the same lock.)
        if senders.get(&topic).is_some_and(|s| s.receiver_count() <= 1) {
            senders.remove(&topic);
            if let Some(redis) = &self.redis {
                let _ = redis.control.send(Control::Unsubscribe(topic));
            }
        }
    }

    /// Topics with subscribers in this process.
    pub fn topics(&self) -> usize {
        self.senders.lock().expect("events lock").len()
    }
}

/// Holds this process's Redis subscriptions: (un)subscribes channels as local subscribers
/// come and go, hands each message to the topic's local subscribers, and reconnects (and
/// resubscribes) when the connection drops.
async fn listen(
    client: redis::Client,
    prefix: String,
    senders: Senders,
    mut requests: mpsc::UnboundedReceiver<Control>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let pubsub = match client.get_async_pubsub().await {
            Ok(p) => p,
            Err(err) => {
                tracing::warn!(error = %err, "events: redis unreachable; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                // Drain requests so they do not pile up; the resubscribe below covers them.
                while requests.try_recv().is_ok() {}
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        let (mut sink, mut stream) = pubsub.split();
        // Resubscribe whatever local subscribers exist now.
        let topics: Vec<Topic> = senders
            .lock()
            .expect("events lock")
            .keys()
            .copied()
            .collect();
        let mut ok = true;
        for topic in topics {
            if sink.subscribe(topic.channel(&prefix)).await.is_err() {
                ok = false;
                break;
            }
        }
        while ok {
            tokio::select! {
                request = requests.recv() => {
                    let Some(request) = request else { return };
                    let done = match request {
                        Control::Subscribe(topic) => sink.subscribe(topic.channel(&prefix)).await,
                        Control::Unsubscribe(topic) => sink.unsubscribe(topic.channel(&prefix)).await,
                    };
                    ok = done.is_ok();
                }
                message = stream.next() => {
                    let Some(message) = message else { ok = false; continue };
                    let Ok(payload) = message.get_payload::<String>() else { continue };
                    match serde_json::from_str::<Envelope>(&payload) {
                        Ok(envelope) => {
                            let senders = senders.lock().expect("events lock");
                            if let Some(sender) = senders.get(&envelope.topic) {
                                let _ = sender.send(Arc::new(envelope.event));
                            }
                        }
                        Err(err) => tracing::warn!(error = %err, "events: unreadable message"),
                    }
                }
            }
        }
        tracing::warn!("events: redis subscription lost; reconnecting");
        tokio::time::sleep(backoff).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_of_a_topic_get_its_events_and_no_others() {
        let events = Events::in_process();
        let run = Uuid::new_v4();
        let mut mine = events.subscribe(Topic::Run(run));
        let mut other = events.subscribe(Topic::Run(Uuid::new_v4()));
        let event = Event::RunUpdated {
            run_id: run,
            deleted: false,
        };
        events.publish(Topic::Run(run), event.clone()).await;
        assert_eq!(*mine.receiver.recv().await.unwrap(), event);
        assert!(other.receiver.try_recv().is_err());
        drop(mine);
        drop(other);
        assert_eq!(
            events.topics(),
            0,
            "topics without subscribers are forgotten"
        );
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_and_writers_never_wait() {
        let events = Events::in_process();
        let topic = Topic::Model(Uuid::new_v4());
        let mut slow = events.subscribe(topic);
        for _ in 0..BUFFER + 10 {
            let event = Event::Model {
                version_id: None,
                alias: None,
                change: ModelChange::AliasSet,
            };
            events.publish(topic, event).await;
        }
        assert!(matches!(
            slow.receiver.recv().await,
            Err(broadcast::error::RecvError::Lagged(10))
        ));
    }
}

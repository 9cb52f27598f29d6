//! Dataloaders: every relation is read in batches, one statement per (relation, batch).
//! One `RequestLoader` per request; each key type below is one relation.
//!
//! A batch collects the keys that the request's resolvers ask for in one pass over the
//! resolvers the engine is polling, and is read when that pass is over: the first key of
//! a batch opens it, the batch yields to the executor once (so every sibling resolver in
//! the pass adds its key), then closes and runs one statement. No timer is involved, so a
//! level of nesting costs its statement and nothing more. The engine resolves a request in
//! one task, so "one pass" is what the request's task polls before it next waits.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_graphql::dataloader::Loader;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use futures_util::task::{ArcWake, AtomicWaker};
use uuid::Uuid;

use crate::db;
use crate::db::Db;
use crate::db::artifacts::ArtifactRow;
use crate::db::experiments::ExperimentRow;
use crate::db::models::{ModelRow, VersionRow};
use crate::db::projects::{MemberRow, ProjectRole, ProjectRow};
use crate::db::runs::{KeyValueRow, MetricRow, RunRow};
use crate::db::search::{Condition, RunQuery, SearchRow};
use crate::db::users::UserRow;
use crate::error::AppError;

/// Batches may be large (a 20×20×20 nested read asks for 8,000 runs' params at once);
/// one statement per batch keeps the statement count independent of page sizes. A batch
/// that reaches this many keys is closed and the next key opens another.
const MAX_BATCH: usize = 20_000;

pub struct Loaders {
    pub db: Db,
    /// The signed-in user, whose project roles `ProjectRoleKey` loads.
    pub viewer: Option<Uuid>,
}

type BatchResult<K, V> = Shared<BoxFuture<'static, Result<Arc<HashMap<K, V>>, AppError>>>;

/// The keys of one relation: the batch each key was (or is being) read in, a primed key
/// being a batch of its own; and the batch still taking keys, if any. A key's value is
/// copied out of its batch once per `load_one`.
struct Relation<K, V> {
    loads: HashMap<K, BatchResult<K, V>>,
    open: Option<OpenBatch<K, V>>,
}

struct OpenBatch<K, V> {
    /// The keys asked for; `None` once the batch has closed and is being read.
    keys: Arc<Mutex<Option<Vec<K>>>>,
    result: BatchResult<K, V>,
}

impl<K, V> OpenBatch<K, V> {
    /// Adds `key` if the batch still takes keys.
    fn add(&self, key: K) -> Result<(), K> {
        match self.keys.lock().expect("batch lock").as_mut() {
            Some(keys) if keys.len() < MAX_BATCH => {
                keys.push(key);
                Ok(())
            }
            _ => Err(key),
        }
    }
}

/// The request's loaders. A key asked for again (a user who is `createdBy` at several
/// levels, say) shares its first load, in flight or done, so the number of statements
/// depends on the query's shape alone.
pub struct RequestLoader {
    loaders: Arc<Loaders>,
    relations: Relations,
}

type Relations = Arc<Mutex<HashMap<TypeId, Box<dyn Any + Send>>>>;

/// Makes a long-lived request (a subscription) read fresh data for its next event
/// instead of what it loaded for the last one.
#[derive(Clone)]
pub struct LoaderReset(Relations);

impl LoaderReset {
    pub fn forget(&self) {
        self.0.lock().expect("loader lock").clear();
    }
}

impl RequestLoader {
    pub fn reset_handle(&self) -> LoaderReset {
        LoaderReset(Arc::clone(&self.relations))
    }

    fn with_relation<K, V, T>(&self, f: impl FnOnce(&mut Relation<K, V>) -> T) -> T
    where
        K: Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        let mut relations = self.relations.lock().expect("loader lock");
        let relation = relations
            .entry(TypeId::of::<K>())
            .or_insert_with(|| {
                Box::new(Relation::<K, V> {
                    loads: HashMap::new(),
                    open: None,
                })
            })
            .downcast_mut::<Relation<K, V>>()
            .expect("one relation per key type");
        f(relation)
    }

    /// Starts the request knowing `key`'s value (read with the caller's credential): a
    /// later `load_one` of it costs no statement. A key already asked for keeps its load.
    pub fn prime<K, V>(&self, key: K, value: V)
    where
        Loaders: Loader<K, Value = V, Error = AppError>,
        K: Send + Sync + Hash + Eq + Clone + 'static,
        V: Send + Sync + Clone + 'static,
    {
        self.with_relation(|relation: &mut Relation<K, V>| {
            if let std::collections::hash_map::Entry::Vacant(entry) = relation.loads.entry(key) {
                let known = HashMap::from([(entry.key().clone(), value)]);
                entry.insert(
                    futures_util::future::ready(Ok(Arc::new(known)))
                        .boxed()
                        .shared(),
                );
            }
        });
    }

    pub async fn load_one<K, V>(&self, key: K) -> Result<Option<V>, AppError>
    where
        Loaders: Loader<K, Value = V, Error = AppError>,
        K: Send + Sync + Hash + Eq + Clone + 'static,
        V: Send + Sync + Clone + 'static,
    {
        let batch = self.with_relation(|relation: &mut Relation<K, V>| {
            if let Some(batch) = relation.loads.get(&key) {
                return batch.clone();
            }
            let added = match &relation.open {
                Some(batch) => batch.add(key.clone()),
                None => Err(key.clone()),
            };
            if let Err(first) = added {
                relation.open = Some(self.open_batch(first));
            }
            let batch = relation
                .open
                .as_ref()
                .expect("a batch is open")
                .result
                .clone();
            relation.loads.insert(key.clone(), batch.clone());
            batch
        });
        Ok(batch.await?.get(&key).cloned())
    }

    /// A batch holding `first`, read once the resolvers polled with it have added theirs.
    fn open_batch<K, V>(&self, first: K) -> OpenBatch<K, V>
    where
        Loaders: Loader<K, Value = V, Error = AppError>,
        K: Send + Sync + Hash + Eq + Clone + 'static,
        V: Send + Sync + Clone + 'static,
    {
        let keys = Arc::new(Mutex::new(Some(vec![first])));
        let loaders = Arc::clone(&self.loaders);
        let taken = Arc::clone(&keys);
        let result = async move {
            after_this_pass().await;
            let keys = taken.lock().expect("batch lock").take().unwrap_or_default();
            Ok(Arc::new(loaders.load(&keys).await?))
        }
        .boxed()
        .shared();
        OpenBatch { keys, result }
    }
}

/// Completes once the task that first polls it has finished its current poll (and been
/// woken for the next): by then every resolver that task polled has asked for its keys.
///
/// It counts the wake, not the polls: a batch's future is polled by each of its keys'
/// loads in turn, and must stay open through all of those polls in the same pass.
async fn after_this_pass() {
    #[derive(Default)]
    struct PassEnd {
        over: AtomicBool,
        waker: AtomicWaker,
    }
    impl ArcWake for PassEnd {
        fn wake_by_ref(end: &Arc<Self>) {
            end.over.store(true, Ordering::Release);
            end.waker.wake();
        }
    }
    let end = Arc::new(PassEnd::default());
    // The runtime wakes a yielding task after its current poll; this yield is polled once,
    // with a waker that marks the pass as over.
    let mut deferred = Some(Box::pin(tokio::task::yield_now()));
    std::future::poll_fn(move |cx| {
        end.waker.register(cx.waker());
        if let Some(mut yielding) = deferred.take() {
            let marker = futures_util::task::waker(Arc::clone(&end));
            let _ = yielding.as_mut().poll(&mut Context::from_waker(&marker));
        }
        if end.over.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

pub fn for_request(db: Db, viewer: Option<Uuid>) -> RequestLoader {
    RequestLoader {
        loaders: Arc::new(Loaders { db, viewer }),
        relations: Relations::default(),
    }
}

macro_rules! key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub Uuid);
    };
}

key!(/// A user by id.
    UserKey);
key!(/// A project by id.
    ProjectKey);
key!(/// The viewer's role in a project.
    ProjectRoleKey);
key!(/// A project's members.
    MembersKey);
key!(/// An experiment by id.
    ExperimentKey);
key!(/// A run by id.
    RunKey);
key!(/// A run's params.
    ParamsKey);
key!(/// A run's tags.
    TagsKey);
key!(/// A run's latest metrics.
    LatestMetricsKey);
key!(/// Model versions made from a run.
    VersionsFromRunKey);
key!(/// A model by id.
    ModelKey);
key!(/// A model version by id.
    VersionKey);
key!(/// An artifact by id.
    ArtifactKey);
key!(/// A run's artifacts.
    RunArtifactsKey);
key!(/// A model version's artifacts.
    VersionArtifactsKey);
key!(/// How many experiments a project has.
    ExperimentCountKey);
key!(/// How many models a project has.
    ModelCountKey);
key!(/// How many versions a model has.
    VersionCountKey);

/// A page of children of one parent; all keys of a batch with the same page arguments
/// are read in one statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChildPageKey<P> {
    pub parent: Uuid,
    pub after: Option<P>,
    pub limit: i64,
}

/// A page of an experiment's runs, with the search serialized so it can be a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunPageKey {
    pub experiment: Uuid,
    pub query: String,
}

/// How many of an experiment's runs match a (serialized) filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunCountKey {
    pub experiment: Uuid,
    pub filter: String,
}

fn ids<K: Copy>(keys: &[K], f: impl Fn(K) -> Uuid) -> Vec<Uuid> {
    keys.iter().map(|k| f(*k)).collect()
}

fn grouped<R, K: Hash + Eq>(rows: Vec<R>, key: impl Fn(&R) -> K) -> HashMap<K, Vec<R>> {
    let mut out: HashMap<K, Vec<R>> = HashMap::new();
    for r in rows {
        out.entry(key(&r)).or_default().push(r);
    }
    out
}

/// Groups page keys by their page arguments, so each group is one statement.
fn page_groups<P: Clone + Eq + Hash>(
    keys: &[ChildPageKey<P>],
) -> HashMap<(Option<P>, i64), Vec<Uuid>> {
    let mut out: HashMap<(Option<P>, i64), Vec<Uuid>> = HashMap::new();
    for k in keys {
        out.entry((k.after.clone(), k.limit))
            .or_default()
            .push(k.parent);
    }
    out
}

macro_rules! by_id_loader {
    ($key:ty, $row:ty, $fetch:path, $field:ident) => {
        impl Loader<$key> for Loaders {
            type Value = $row;
            type Error = AppError;
            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $row>, AppError> {
                let rows = $fetch(&self.db, &ids(keys, |k| k.0)).await?;
                Ok(rows
                    .into_iter()
                    .map(|r| (<$key>::from_id(r.$field), r))
                    .collect())
            }
        }
    };
}

/// A row's field, or the value of a method of that name.
macro_rules! field {
    ($r:ident, run_id_or_nil) => {
        $r.run_id_or_nil()
    };
    ($r:ident, version_id_or_nil) => {
        $r.version_id_or_nil()
    };
    ($r:ident, $f:ident) => {
        $r.$f
    };
}

macro_rules! grouped_loader {
    ($key:ty, $row:ty, $fetch:path, $field:ident) => {
        impl Loader<$key> for Loaders {
            type Value = Vec<$row>;
            type Error = AppError;
            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Vec<$row>>, AppError> {
                let rows = $fetch(&self.db, &ids(keys, |k| k.0)).await?;
                Ok(grouped(rows, |r| <$key>::from_id(field!(r, $field))))
            }
        }
    };
}

macro_rules! count_loader {
    ($key:ty, $fetch:path) => {
        impl Loader<$key> for Loaders {
            type Value = i64;
            type Error = AppError;
            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, i64>, AppError> {
                let rows = $fetch(&self.db, &ids(keys, |k| k.0)).await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, n)| (<$key>::from_id(id), n))
                    .collect())
            }
        }
    };
}

macro_rules! from_id {
    ($($key:ty),*) => {$(
        impl $key {
            fn from_id(id: Uuid) -> Self { Self(id) }
        }
    )*};
}

from_id!(
    ArtifactKey,
    RunArtifactsKey,
    VersionArtifactsKey,
    UserKey,
    ProjectKey,
    MembersKey,
    ExperimentKey,
    RunKey,
    ParamsKey,
    TagsKey,
    LatestMetricsKey,
    ModelKey,
    VersionKey,
    ExperimentCountKey,
    ModelCountKey,
    VersionCountKey
);

by_id_loader!(UserKey, UserRow, db::users::find_many, id);
by_id_loader!(ArtifactKey, ArtifactRow, db::artifacts::find_many, id);
by_id_loader!(ProjectKey, ProjectRow, db::projects::find_many, id);
by_id_loader!(ExperimentKey, ExperimentRow, db::experiments::find_many, id);
by_id_loader!(RunKey, RunRow, db::runs::find_many, id);
by_id_loader!(ModelKey, ModelRow, db::models::find_many, id);
by_id_loader!(VersionKey, VersionRow, db::models::find_versions, id);

grouped_loader!(
    RunArtifactsKey,
    ArtifactRow,
    db::artifacts::of_runs,
    run_id_or_nil
);
grouped_loader!(
    VersionArtifactsKey,
    ArtifactRow,
    db::artifacts::of_versions,
    version_id_or_nil
);
grouped_loader!(MembersKey, MemberRow, db::projects::members_of, project_id);
grouped_loader!(ParamsKey, KeyValueRow, db::runs::params_of, run_id);
grouped_loader!(TagsKey, KeyValueRow, db::runs::tags_of, run_id);
grouped_loader!(
    LatestMetricsKey,
    MetricRow,
    db::runs::latest_metrics_of,
    run_id
);

count_loader!(ExperimentCountKey, db::experiments::counts_by_project);
count_loader!(ModelCountKey, db::models::counts_by_project);
count_loader!(VersionCountKey, db::models::version_counts_by_model);

impl Loader<VersionsFromRunKey> for Loaders {
    type Value = Vec<VersionRow>;
    type Error = AppError;
    async fn load(
        &self,
        keys: &[VersionsFromRunKey],
    ) -> Result<HashMap<VersionsFromRunKey, Vec<VersionRow>>, AppError> {
        let rows = db::models::versions_from_runs(&self.db, &ids(keys, |k| k.0)).await?;
        Ok(grouped(rows, |r| {
            VersionsFromRunKey(r.source_run_id.unwrap_or_default())
        }))
    }
}

impl Loader<ProjectRoleKey> for Loaders {
    type Value = ProjectRole;
    type Error = AppError;
    async fn load(
        &self,
        keys: &[ProjectRoleKey],
    ) -> Result<HashMap<ProjectRoleKey, ProjectRole>, AppError> {
        let Some(viewer) = self.viewer else {
            return Ok(HashMap::new());
        };
        let rows = db::projects::roles(&self.db, viewer, &ids(keys, |k| k.0)).await?;
        Ok(rows
            .into_iter()
            .map(|(id, role)| (ProjectRoleKey(id), role))
            .collect())
    }
}

/// A page of a project's experiments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExperimentPageKey(pub ChildPageKey<Uuid>);
/// A page of a project's models.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelPageKey(pub ChildPageKey<Uuid>);
/// A page of a model's versions, newest first (cursor: the last version number seen).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionPageKey(pub ChildPageKey<i32>);

/// A page of an experiment's runs in the default order, unfiltered (cursor: the last
/// creation time and id seen): the common nested read, without the search builder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunDefaultPageKey(pub ChildPageKey<(chrono::DateTime<chrono::Utc>, Uuid)>);

/// One statement per group of keys with the same page arguments.
macro_rules! page_loader {
    ($key:ident, $cursor:ty, $row:ty, $fetch:path, $parent:ident) => {
        impl Loader<$key> for Loaders {
            type Value = Vec<$row>;
            type Error = AppError;
            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Vec<$row>>, AppError> {
                let plain: Vec<ChildPageKey<$cursor>> = keys.iter().map(|k| k.0.clone()).collect();
                let mut out = HashMap::new();
                for ((after, limit), parents) in page_groups(&plain) {
                    let rows = $fetch(&self.db, &parents, after, limit).await?;
                    let mut by_parent = grouped(rows, |r| r.$parent);
                    for parent in parents {
                        let page = by_parent.remove(&parent).unwrap_or_default();
                        out.insert(
                            $key(ChildPageKey {
                                parent,
                                after,
                                limit,
                            }),
                            page,
                        );
                    }
                }
                Ok(out)
            }
        }
    };
}

page_loader!(
    ExperimentPageKey,
    Uuid,
    ExperimentRow,
    db::experiments::pages_by_project,
    project_id
);
page_loader!(
    ModelPageKey,
    Uuid,
    ModelRow,
    db::models::pages_by_project,
    project_id
);
page_loader!(
    RunDefaultPageKey,
    (chrono::DateTime<chrono::Utc>, Uuid),
    RunRow,
    db::runs::pages_by_experiment,
    experiment_id
);
page_loader!(
    VersionPageKey,
    i32,
    VersionRow,
    db::models::version_pages_by_model,
    model_id
);

impl Loader<RunPageKey> for Loaders {
    type Value = Vec<SearchRow>;
    type Error = AppError;
    async fn load(
        &self,
        keys: &[RunPageKey],
    ) -> Result<HashMap<RunPageKey, Vec<SearchRow>>, AppError> {
        let mut groups: HashMap<&str, Vec<Uuid>> = HashMap::new();
        for k in keys {
            groups
                .entry(k.query.as_str())
                .or_default()
                .push(k.experiment);
        }
        let mut out = HashMap::new();
        for (query_json, experiments) in groups {
            let query: RunQuery = serde_json::from_str(query_json).map_err(anyhow::Error::from)?;
            let rows = db::search::search_each(&self.db, &experiments, &query).await?;
            let mut by_parent = grouped(rows, |r| r.run.experiment_id);
            for experiment in experiments {
                let key = RunPageKey {
                    experiment,
                    query: query_json.to_string(),
                };
                out.insert(key, by_parent.remove(&experiment).unwrap_or_default());
            }
        }
        Ok(out)
    }
}

impl Loader<RunCountKey> for Loaders {
    type Value = i64;
    type Error = AppError;
    async fn load(&self, keys: &[RunCountKey]) -> Result<HashMap<RunCountKey, i64>, AppError> {
        let mut groups: HashMap<&str, Vec<Uuid>> = HashMap::new();
        for k in keys {
            groups
                .entry(k.filter.as_str())
                .or_default()
                .push(k.experiment);
        }
        let mut out = HashMap::new();
        for (filter_json, experiments) in groups {
            let filter: Option<Condition> =
                serde_json::from_str(filter_json).map_err(anyhow::Error::from)?;
            let counts = db::search::count_each(&self.db, &experiments, filter.as_ref()).await?;
            let counts: HashMap<Uuid, i64> = counts.into_iter().collect();
            for experiment in experiments {
                let key = RunCountKey {
                    experiment,
                    filter: filter_json.to_string(),
                };
                out.insert(key, counts.get(&experiment).copied().unwrap_or(0));
            }
        }
        Ok(out)
    }
}

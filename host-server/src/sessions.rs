//! The session of every authenticated request: the store's revocation counter,
//! as it stood at some moment after every change acknowledged before the
//! request arrived, and the answers of [`Store::session`] cached until that
//! counter moves.
//!
//! The guarantee this keeps: a logout acknowledged by any instance on the
//! database is refused by every instance for every request sent after the
//! acknowledgement. The logout's commit bumped the counter before it was
//! acknowledged, so the request takes a counter with the bump, and the cache
//! drops what it read before. The counter comes from one of two places:
//!
//! - the serving instance's lease ([`crate::lease`]), while it holds: no read.
//!   The logout returned only once every instance had applied it, or their
//!   leases had lapsed;
//! - otherwise a read that starts after the request arrived. On a store whose
//!   reads wait for the network (PostgreSQL), requests that arrive while a
//!   counter read is under way share the next read instead of each making their
//!   own (single flight): a read that started before a request arrived may
//!   predate a logout acknowledged since, so that request never takes its
//!   answer, but every request that arrived before the next read starts can
//!   take that one. Where reads are cheap and local (SQLite, read on the
//!   executor thread) each request reads the counter itself: there, waking the
//!   requests that wait for a shared read costs as much CPU as the read.

use crate::error::Error;
use crate::lease::Lease;
use crate::store::{Grant, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::sync::watch;

/// How many access tokens' sessions the cache holds before it starts over.
const SESSION_CACHE_MAX: usize = 16 * 1024;

/// Sessions of access tokens, checked against the revocation counter on every call.
pub struct Sessions {
    store: Arc<dyn Store>,
    /// The serving instance's lease, once its watcher runs.
    lease: OnceLock<Arc<Lease>>,
    /// Shared counter reads, unless the store's reads are cheap.
    counter: Option<Arc<CounterReads>>,
    cache: SessionCache,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions read from `store`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        let source = Arc::clone(&store);
        Sessions {
            counter: (!store.cheap_reads()).then(|| {
                Arc::new(CounterReads::new(Box::new(move || {
                    source.revocation_counter()
                })))
            }),
            store,
            lease: OnceLock::new(),
            cache: SessionCache::new(),
        }
    }

    /// From now on, the counter comes from `lease` while it holds, with no read
    /// of its own (see [`crate::lease`]). Ignored after the first call.
    pub fn use_lease(&self, lease: Arc<Lease>) {
        let _ = self.lease.set(lease);
    }

    /// `None` if the access token `jti` of refresh family `family` is dead
    /// (see [`Store::session`]), else the grants of its user `username`, as
    /// the store held them after every change acknowledged before this call.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    pub async fn session(
        &self,
        jti: &str,
        family: &str,
        username: &str,
    ) -> Result<Option<Arc<[Grant]>>, Error> {
        let counter = self.counter().await?;
        self.session_at(counter, jti, family, username).await
    }

    /// The revocation counter, with every change acknowledged before this call:
    /// the instance's lease's while it holds, else from a read that started
    /// after this call did.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    pub async fn counter(&self) -> Result<i64, Error> {
        if let Some(counter) = self.lease.get().and_then(|lease| lease.counter()) {
            return Ok(counter);
        }
        match &self.counter {
            Some(shared) => shared.read().await,
            None => self.store.revocation_counter(),
        }
    }

    /// As [`Sessions::session`], with the revocation `counter` the caller read
    /// through [`Sessions::counter`] after its request arrived.
    ///
    /// # Errors
    /// [`Error::Store`] on database failure.
    pub async fn session_at(
        &self,
        counter: i64,
        jti: &str,
        family: &str,
        username: &str,
    ) -> Result<Option<Arc<[Grant]>>, Error> {
        if let Some(hit) = self.cache.get(counter, jti, family, username) {
            return Ok(hit);
        }
        let grants = if self.store.cheap_reads() {
            self.store.session(jti, family, username)?
        } else {
            let store = Arc::clone(&self.store);
            let (j, f, u) = (jti.to_owned(), family.to_owned(), username.to_owned());
            tokio::task::spawn_blocking(move || store.session(&j, &f, &u))
                .await
                .map_err(|e| Error::Internal(format!("session read: {e}")))??
        };
        self.cache
            .insert(counter, jti, family, username, grants.clone());
        Ok(grants)
    }
}

/// A read of the revocation counter.
type ReadCounter = Box<dyn Fn() -> Result<i64, Error> + Send + Sync>;

/// Reads of the revocation counter on a blocking thread, one at a time, each
/// shared by the callers that arrived before it started. While callers wait
/// for a later read, the thread that finished one starts the next at once.
struct CounterReads {
    read: ReadCounter,
    flight: Mutex<Flight>,
    /// The latest finished read; callers wait here for theirs.
    done: watch::Sender<Done>,
}

/// Which reads have started.
#[derive(Debug)]
struct Flight {
    /// The generation of the read that started last (reads are numbered from 1).
    started: u64,
    /// Whether that read is still under way.
    busy: bool,
    /// The latest generation a caller waits for.
    wanted: u64,
}

/// A finished read.
#[derive(Debug, Clone)]
struct Done {
    generation: u64,
    counter: Result<i64, Error>,
}

impl CounterReads {
    fn new(read: ReadCounter) -> Self {
        CounterReads {
            read,
            flight: Mutex::new(Flight {
                started: 0,
                busy: false,
                wanted: 0,
            }),
            done: watch::Sender::new(Done {
                generation: 0,
                counter: Err(Error::Internal("no counter read yet".into())),
            }),
        }
    }

    /// The counter, from a read that started after this call began.
    async fn read(self: &Arc<Self>) -> Result<i64, Error> {
        let mut done = self.done.subscribe();
        // Generations only grow, and only under the lock: every read numbered
        // `need` or later starts after this point.
        let need = {
            let mut flight = self.lock();
            let need = flight.started.saturating_add(1);
            flight.wanted = flight.wanted.max(need);
            need
        };
        loop {
            {
                // Marks the value seen: a read finishing after this wakes
                // `changed` below, so no finish is missed between here and there.
                let latest = done.borrow_and_update();
                if latest.generation >= need {
                    return latest.counter.clone();
                }
            }
            if let Some(generation) = self.claim() {
                let reading = Reading {
                    reads: Arc::clone(self),
                    generation,
                    finished: false,
                };
                // Runs to its end even if this caller goes away: others wait for it.
                drop(tokio::task::spawn_blocking(move || reading.run()));
                continue;
            }
            done.changed()
                .await
                .map_err(|_| Error::Internal("the counter reads are gone".into()))?;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Flight> {
        // Integers, consistent whenever the lock is free: a panic elsewhere
        // cannot leave them half-written.
        self.flight.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next generation, if no read is under way: the caller starts it.
    fn claim(&self) -> Option<u64> {
        let mut flight = self.lock();
        if flight.busy {
            return None;
        }
        flight.busy = true;
        flight.started = flight.started.saturating_add(1);
        Some(flight.started)
    }

    /// Publishes read `generation`; if `go_on` and a caller waits for a later
    /// read, the next generation, which the finishing thread starts now.
    fn finish(&self, generation: u64, counter: Result<i64, Error>, go_on: bool) -> Option<u64> {
        let mut flight = self.lock();
        self.done.send_replace(Done {
            generation,
            counter,
        });
        if go_on && flight.wanted > generation {
            flight.started = generation.saturating_add(1);
            Some(flight.started)
        } else {
            flight.busy = false;
            None
        }
    }
}

/// A claimed read. Dropped before it finished (its blocking task was refused
/// at shutdown, or the read panicked), it publishes an error, so that the
/// callers waiting for it move on.
struct Reading {
    reads: Arc<CounterReads>,
    generation: u64,
    finished: bool,
}

impl Reading {
    /// Reads, and reads again while callers wait for a later read.
    fn run(mut self) {
        loop {
            let counter = (self.reads.read)();
            match self.reads.finish(self.generation, counter, true) {
                Some(next) => self.generation = next,
                None => break,
            }
        }
        self.finished = true;
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        if !self.finished {
            let failed = Err(Error::Internal("the counter read did not finish".into()));
            self.reads.finish(self.generation, failed, false);
        }
    }
}

/// Answers of [`Store::session`] read since the revocation counter last moved.
#[derive(Debug)]
struct SessionCache {
    inner: Mutex<CacheInner>,
}

#[derive(Debug)]
struct CacheInner {
    /// The highest counter seen. Every entry was read from the database after
    /// that counter value had been read.
    counter: i64,
    /// By access token `jti`.
    entries: HashMap<String, CachedSession>,
}

#[derive(Debug)]
struct CachedSession {
    family: String,
    username: String,
    grants: Option<Arc<[Grant]>>,
}

impl SessionCache {
    fn new() -> SessionCache {
        SessionCache {
            inner: Mutex::new(CacheInner {
                counter: i64::MIN,
                entries: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        // A panic while the lock was held may have left any entry behind; the
        // cache starts over instead.
        self.inner.lock().unwrap_or_else(|poisoned| {
            let mut inner = poisoned.into_inner();
            inner.entries.clear();
            self.inner.clear_poison();
            inner
        })
    }

    /// The cached session of an access token, given `counter`, the revocation
    /// counter just read: `None` unless it was read after a read of the counter
    /// that gave `counter` or more.
    fn get(
        &self,
        counter: i64,
        jti: &str,
        family: &str,
        username: &str,
    ) -> Option<Option<Arc<[Grant]>>> {
        let mut cache = self.lock();
        if counter > cache.counter {
            cache.entries.clear();
            cache.counter = counter;
        }
        // A request that read an older counter (it raced a newer one) may use
        // entries read after the newer one: they are at least as recent.
        cache
            .entries
            .get(jti)
            .filter(|hit| hit.family == family && hit.username == username)
            .map(|hit| hit.grants.clone())
    }

    /// Keeps a session read from the database after `counter` was read.
    fn insert(
        &self,
        counter: i64,
        jti: &str,
        family: &str,
        username: &str,
        grants: Option<Arc<[Grant]>>,
    ) {
        let mut cache = self.lock();
        // Only under the counter it was read after: an answer read under an older
        // counter may predate the change that moved it.
        if cache.counter != counter {
            return;
        }
        if cache.entries.len() >= SESSION_CACHE_MAX {
            cache.entries.clear();
        }
        cache.entries.insert(
            jti.to_owned(),
            CachedSession {
                family: family.to_owned(),
                username: username.to_owned(),
                grants,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    /// A counter "database" whose reads take their snapshot when they start and
    /// then wait until the test lets them finish.
    struct Gated {
        value: AtomicI64,
        reads: AtomicUsize,
        started: Mutex<mpsc::Sender<()>>,
        release: Mutex<mpsc::Receiver<()>>,
    }

    fn gated() -> (Arc<Gated>, mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel();
        let db = Arc::new(Gated {
            value: AtomicI64::new(0),
            reads: AtomicUsize::new(0),
            started: Mutex::new(started_tx),
            release: Mutex::new(release_rx),
        });
        (db, started_rx, release_tx)
    }

    fn reads_of(db: &Arc<Gated>) -> Arc<CounterReads> {
        let db = Arc::clone(db);
        Arc::new(CounterReads::new(Box::new(move || {
            let snapshot = db.value.load(Ordering::SeqCst);
            db.reads.fetch_add(1, Ordering::SeqCst);
            db.started.lock().unwrap().send(()).unwrap();
            db.release.lock().unwrap().recv().unwrap();
            Ok(snapshot)
        })))
    }

    /// A caller asking `reads` for the counter, on a task of its own.
    fn caller(reads: &Arc<CounterReads>) -> tokio::task::JoinHandle<Result<i64, Error>> {
        let reads = Arc::clone(reads);
        tokio::spawn(async move { reads.read().await })
    }

    /// Waits (bounded) until the gated database says a read started.
    fn read_started(started: &mpsc::Receiver<()>) {
        started
            .recv_timeout(Duration::from_secs(10))
            .expect("a read started");
    }

    /// Waits until `n` callers wait on `reads` (they subscribed to its result).
    async fn waiting(reads: &CounterReads, n: usize) {
        while reads.done.receiver_count() < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_never_takes_a_read_that_started_before_it() {
        let (db, started, release) = gated();
        let reads = reads_of(&db);
        // A arrives and starts read 1, which takes its snapshot (0) and waits.
        let a = caller(&reads);
        read_started(&started);
        // A logout commits (1) and is acknowledged while read 1 is under way;
        // then B and C arrive.
        db.value.store(1, Ordering::SeqCst);
        let later: Vec<_> = (0..2).map(|_| caller(&reads)).collect();
        waiting(&reads, 3).await;
        release.send(()).unwrap();
        assert_eq!(a.await.unwrap(), Ok(0));
        // B and C waited for read 2, which started after read 1 ended: one read
        // for both, and it saw the logout.
        read_started(&started);
        release.send(()).unwrap();
        for task in later {
            assert_eq!(task.await.unwrap(), Ok(1));
        }
        assert_eq!(db.reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_goes_away_does_not_stall_the_others() {
        let (db, started, release) = gated();
        let reads = reads_of(&db);
        let a = caller(&reads);
        read_started(&started);
        // The caller that started the read is cancelled; its read still ends,
        // and the next caller gets a read of its own.
        a.abort();
        release.send(()).unwrap();
        db.value.store(7, Ordering::SeqCst);
        let b = caller(&reads);
        read_started(&started);
        release.send(()).unwrap();
        assert_eq!(b.await.unwrap(), Ok(7));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_read_fails_its_callers_and_not_the_next() {
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let reads = Arc::new(CounterReads::new(Box::new({
            let fail = Arc::clone(&fail);
            move || {
                if fail.load(Ordering::SeqCst) {
                    Err(Error::Store("disk I/O error".into()))
                } else {
                    Ok(3)
                }
            }
        })));
        assert_eq!(
            reads.read().await,
            Err(Error::Store("disk I/O error".into()))
        );
        fail.store(false, Ordering::SeqCst);
        assert_eq!(reads.read().await, Ok(3));
    }

    #[test]
    fn the_cache_keeps_only_what_was_read_under_the_newest_counter() {
        let cache = SessionCache::new();
        let grants: Arc<[Grant]> = Arc::from([]);
        assert_eq!(cache.get(5, "j1", "f1", "alice"), None);
        cache.insert(5, "j1", "f1", "alice", Some(Arc::clone(&grants)));
        assert_eq!(
            cache.get(5, "j1", "f1", "alice"),
            Some(Some(grants.clone()))
        );
        // A caller that read an older counter may take what was read under a newer one.
        assert_eq!(
            cache.get(4, "j1", "f1", "alice"),
            Some(Some(grants.clone()))
        );
        // What was read under 4 is not kept once 5 was seen: it may predate the change.
        cache.insert(4, "j2", "f1", "alice", Some(Arc::clone(&grants)));
        assert_eq!(cache.get(5, "j2", "f1", "alice"), None);
        cache.insert(5, "j2", "f1", "alice", None);
        assert_eq!(cache.get(5, "j2", "f1", "alice"), Some(None));
        // Only for the family and user it was read for.
        assert_eq!(cache.get(5, "j2", "f2", "alice"), None);
        assert_eq!(cache.get(5, "j2", "f1", "bob"), None);
        // The counter moved: everything goes.
        assert_eq!(cache.get(6, "j1", "f1", "alice"), None);
    }
}

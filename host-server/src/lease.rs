//! [`Lease`]: how a serving instance answers authenticated requests without a
//! store read of its own, and [`settle`]: how a change that ends a session
//! waits, before it is acknowledged, until every instance refuses it.
//!
//! The guarantee ([`crate::sessions`]): a change that moves the revocation
//! counter (a logout, a removed user or grant, a ring change), acknowledged by
//! any instance or the CLI, is in force on every instance on the database for
//! every request sent after the acknowledgement. A read of the counter per
//! request keeps it at one store read per request. Sessions are checked far
//! more often than they end, so the cost moves to the change:
//!
//! - Every serving instance has a row in the store (`id`, `seen`, `beat`). Its
//!   [`Watcher`] thread reads the counter every [`Timing::poll`] (every
//!   [`Timing::idle_poll`] while no request took the lease for a second), raises
//!   the instance's known counter, then reports it in the row (`seen`), and
//!   moves the row's `beat` at least every [`Timing::beat`].
//! - A request takes the known counter instead of reading one while the lease
//!   holds: until [`Timing::hold`] after the start of the instance's last
//!   counter read or of its last write to its row, whichever started first
//!   (reads count only once the row was registered). Otherwise (a watcher that
//!   cannot reach the store, a process that was stopped) the request reads the
//!   counter itself.
//! - A change that moved the counter to `n` ([`settle`]) returns once every
//!   row says `seen >= n`, or [`LEASE`] after its commit.
//!
//! Why that holds, for an instance B and a request that reaches it after the
//! acknowledgement: if B's row says `seen >= n`, B raised its known counter to
//! `n` before it wrote that. If B had no row when the change looked, every read
//! B counts started after it registered, so after the commit (or B's row was
//! forgotten: see below). Otherwise the change waited [`LEASE`] from after its
//! commit: a lease granted by a read that started before the commit has lapsed
//! by then ([`Timing::hold`] is below [`LEASE`]), and a read that started after
//! it saw `n`.
//!
//! An instance whose beat stood still for [`Timing::forget_after`] (it crashed)
//! is forgotten by the others (its row deleted, only if the beat is still the
//! one they saw), and so is one whose beat stood still through a whole
//! [`settle`] that waited for it: one change waits for it at most. Its lease
//! lapsed before: a lease never outlasts the instance's last write by more
//! than [`Timing::hold`], and both waits are longer. An instance that finds its row gone lets its lease lapse
//! and registers again, under a new id (so an instance that watched the old
//! row's beat never takes the new row for it).
//!
//! Times are each process's monotonic clock; two processes' clocks are never
//! compared, only the lengths of intervals, and [`Timing::hold`] leaves a
//! quarter of [`LEASE`] for their rates to differ. A clock that stops while
//! its process is paused (a paused virtual machine) would stretch a lease:
//! such hosts run `serve --no-lease`.

use crate::error::Error;
use crate::store::{Instance, Store};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a change waits at most for an instance that does not report.
pub const LEASE: Duration = Duration::from_secs(2);

/// How often [`settle`] looks at the instances' rows.
const SETTLE_POLL: Duration = Duration::from_millis(1);

/// How long after the last request that took the lease a watcher polls at
/// [`Timing::poll`] rather than [`Timing::idle_poll`].
const BUSY_FOR: Duration = Duration::from_secs(1);

/// A [`Watcher`]'s intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a counter read (or a write of the row) lets the instance answer
    /// without a read of its own. Below [`LEASE`].
    pub hold: Duration,
    /// Between two counter reads while requests take the lease: how long a
    /// change waits for this instance.
    pub poll: Duration,
    /// Between two counter reads once no request took the lease for a second.
    pub idle_poll: Duration,
    /// The longest time between two writes of the row.
    pub beat: Duration,
    /// How long another instance's beat must stand still before its row is
    /// deleted. Above [`Timing::hold`].
    pub forget_after: Duration,
}

impl Timing {
    /// A server's timing.
    pub const DEFAULT: Timing = Timing {
        hold: Duration::from_millis(1500),
        poll: Duration::from_millis(2),
        idle_poll: Duration::from_millis(10),
        beat: Duration::from_millis(250),
        forget_after: Duration::from_secs(4),
    };

    /// Whether the intervals keep the guarantee: `hold` leaves a quarter of
    /// [`LEASE`], rows are forgotten only after a lease from their last beat
    /// lapsed, and an instance beats often enough to keep its lease.
    #[must_use]
    pub fn is_safe(&self) -> bool {
        self.hold.saturating_mul(4) <= LEASE.saturating_mul(3)
            && self.forget_after > self.hold
            && self.beat.saturating_mul(2) <= self.hold
            && self.poll <= self.idle_poll
            && self.idle_poll < self.beat
    }
}

/// The counter an instance may answer from without a read of its own, while
/// the lease holds.
#[derive(Debug)]
pub struct Lease {
    origin: Instant,
    known: AtomicI64,
    /// Nanoseconds after `origin` until which `known` may be used (0: lapsed).
    until: AtomicU64,
    /// Whether a request asked since the watcher last looked.
    asked: AtomicBool,
}

impl Lease {
    fn new() -> Lease {
        Lease {
            origin: Instant::now(),
            known: AtomicI64::new(i64::MIN),
            until: AtomicU64::new(0),
            asked: AtomicBool::new(false),
        }
    }

    /// The revocation counter, if the lease holds now: it includes every change
    /// acknowledged before this call.
    #[must_use]
    pub fn counter(&self) -> Option<i64> {
        // Written only when it changes: requests on every core read it.
        if !self.asked.load(Ordering::Relaxed) {
            self.asked.store(true, Ordering::Relaxed);
        }
        let until = self.until.load(Ordering::Acquire);
        (self.nanos(Instant::now()) < until).then(|| self.known.load(Ordering::Acquire))
    }

    fn nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    fn known(&self) -> i64 {
        self.known.load(Ordering::Acquire)
    }

    /// Raises the known counter to `counter` (a value read from the store).
    fn raise(&self, counter: i64) {
        self.known.fetch_max(counter, Ordering::AcqRel);
    }

    /// Holds until `until`, or lapses now.
    fn hold_until(&self, until: Option<Instant>) {
        self.until
            .store(until.map_or(0, |t| self.nanos(t)), Ordering::Release);
    }
}

/// Keeps an instance's [`Lease`] on a thread of its own, until dropped.
#[derive(Debug)]
pub struct Watcher {
    lease: Arc<Lease>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Registers a new instance in `store` and keeps its lease.
    ///
    /// # Errors
    /// [`Error::Internal`] if the thread cannot be started or `timing` is not
    /// [`Timing::is_safe`].
    pub fn start(store: Arc<dyn Store>, timing: Timing) -> Result<Watcher, Error> {
        if !timing.is_safe() {
            return Err(Error::Internal(format!("unsafe lease timing {timing:?}")));
        }
        let mut keeper = Keeper::new(store, timing, "server".into());
        let lease = Arc::clone(&keeper.lease);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("latchkey-lease".into())
            .spawn(move || {
                while !stopping.load(Ordering::Acquire) {
                    keeper.step();
                    std::thread::sleep(keeper.pause());
                }
                keeper.leave();
            })
            .map_err(|e| Error::Internal(format!("lease thread: {e}")))?;
        Ok(Watcher {
            lease,
            stop,
            thread: Some(thread),
        })
    }

    /// The lease this watcher keeps.
    #[must_use]
    pub fn lease(&self) -> Arc<Lease> {
        Arc::clone(&self.lease)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A new instance id: `name`, then 128 random bits in hex.
fn instance_id(name: &str) -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("instance id: {e}")))?;
    Ok(std::iter::once(format!("{name}-"))
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect())
}

/// The instance's row while it is in the store.
#[derive(Debug, Clone)]
struct Row {
    /// A new id for every registration: another instance that saw an earlier
    /// row of this one never takes the new row for it, whatever its beat.
    id: String,
    /// When its registration returned: reads count from here.
    registered: Instant,
    /// Its beat, as this instance moved it.
    beat: i64,
}

/// The watcher thread's state.
struct Keeper {
    store: Arc<dyn Store>,
    lease: Arc<Lease>,
    timing: Timing,
    /// What the instance's ids start with.
    name: String,
    row: Option<Row>,
    /// The start of the last counter read that counts.
    last_read: Option<Instant>,
    /// The start of the last write that found the row.
    last_write: Option<Instant>,
    /// The start of the last write tried.
    last_attempt: Option<Instant>,
    /// The counter the row says.
    reported: i64,
    /// Other instances' beats, and when each was first seen.
    others: HashMap<String, (i64, Instant)>,
    last_sweep: Option<Instant>,
    last_complaint: Option<Instant>,
    /// When a request last took the lease, as far as this thread noticed.
    last_asked: Option<Instant>,
}

impl Keeper {
    fn new(store: Arc<dyn Store>, timing: Timing, name: String) -> Keeper {
        Keeper {
            store,
            lease: Arc::new(Lease::new()),
            timing,
            name,
            row: None,
            last_read: None,
            last_write: None,
            last_attempt: None,
            reported: i64::MIN,
            others: HashMap::new(),
            last_sweep: None,
            last_complaint: None,
            last_asked: None,
        }
    }

    /// How long to wait before the next round: [`Timing::poll`] while requests
    /// take the lease, else [`Timing::idle_poll`].
    fn pause(&mut self) -> Duration {
        if self.lease.asked.swap(false, Ordering::Relaxed) {
            self.last_asked = Some(Instant::now());
        }
        if self.last_asked.is_some_and(|t| t.elapsed() < BUSY_FOR) {
            self.timing.poll
        } else {
            self.timing.idle_poll
        }
    }

    /// One round: register if needed, read the counter, report, renew the
    /// lease, and now and then forget instances that stopped beating.
    fn step(&mut self) {
        if self.row.is_none() {
            self.register();
        }
        let started = Instant::now();
        match self.store.revocation_counter() {
            Ok(counter) => {
                self.lease.raise(counter);
                if self
                    .row
                    .as_ref()
                    .is_some_and(|row| started >= row.registered)
                {
                    self.last_read = Some(started);
                }
            }
            Err(e) => self.complain("reading the revocation counter", &e),
        }
        let known = self.lease.known();
        let beat_due = self
            .last_attempt
            .is_none_or(|t| t.elapsed() >= self.timing.beat);
        if let Some(row) = &mut self.row
            && (known > self.reported || beat_due)
        {
            let started = Instant::now();
            self.last_attempt = Some(started);
            match self.store.report_instance(&row.id, known) {
                Ok(true) => {
                    self.last_write = Some(started);
                    self.reported = known;
                    row.beat = row.beat.saturating_add(1);
                }
                Ok(false) => self.lost(),
                Err(e) => self.complain("reporting the revocation counter", &e),
            }
        }
        self.lease
            .hold_until(match (self.last_read, self.last_write) {
                (Some(read), Some(write)) => Some(read.min(write) + self.timing.hold),
                _ => None,
            });
        if self
            .last_sweep
            .is_none_or(|t| t.elapsed() >= self.timing.beat)
        {
            self.last_sweep = Some(Instant::now());
            self.sweep();
        }
    }

    fn register(&mut self) {
        let id = match instance_id(&self.name) {
            Ok(id) => id,
            Err(e) => return self.complain("making an instance id", &e),
        };
        let started = Instant::now();
        let seen = self.lease.known();
        match self.store.register_instance(&id, seen) {
            Ok(()) => {
                tracing::debug!(instance = %id, "registered for the revocation lease");
                self.row = Some(Row {
                    id,
                    registered: Instant::now(),
                    beat: 0,
                });
                self.last_write = Some(started);
                self.last_attempt = Some(started);
                self.last_read = None;
                self.reported = seen;
            }
            Err(e) => self.complain("registering the instance", &e),
        }
    }

    /// The row is gone (forgotten by another instance): the lease lapses now,
    /// and the next round registers again.
    fn lost(&mut self) {
        if let Some(row) = self.row.take() {
            tracing::warn!(
                instance = %row.id,
                "this instance's row was deleted after its beat stood still; registering again"
            );
        }
        self.last_read = None;
        self.last_write = None;
        self.lease.hold_until(None);
    }

    /// Deletes the rows of other instances whose beat stood still for
    /// [`Timing::forget_after`], counted from when this instance first saw it.
    fn sweep(&mut self) {
        let rows = match self.store.instances() {
            Ok(rows) => rows,
            Err(e) => return self.complain("reading the instances", &e),
        };
        let now = Instant::now();
        self.others
            .retain(|id, _| rows.iter().any(|row| &row.id == id));
        let mut stale = Vec::new();
        let own = self.row.as_ref().map(|row| row.id.as_str());
        for row in rows.iter().filter(|row| Some(row.id.as_str()) != own) {
            let (beat, since) = self.others.entry(row.id.clone()).or_insert((row.beat, now));
            if *beat != row.beat {
                (*beat, *since) = (row.beat, now);
            } else if now.duration_since(*since) >= self.timing.forget_after {
                stale.push((row.id.clone(), row.beat));
            }
        }
        for (id, beat) in stale {
            match self.store.forget_instance(&id, beat) {
                Ok(true) => tracing::info!(
                    instance = %id,
                    "forgot an instance whose beat stood still"
                ),
                Ok(false) => {}
                Err(e) => self.complain("forgetting an instance", &e),
            }
        }
    }

    /// The lease lapses and the row goes (a clean shutdown).
    fn leave(&mut self) {
        self.lease.hold_until(None);
        if let Some(row) = self.row.take()
            && let Err(e) = self.store.forget_instance(&row.id, row.beat)
        {
            tracing::warn!(error = %e, "removing this instance's row");
        }
    }

    /// Logs a store failure, at most once a second.
    fn complain(&mut self, what: &str, e: &Error) {
        if self
            .last_complaint
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.last_complaint = Some(Instant::now());
            tracing::warn!(error = %e, "revocation lease: {what} failed; requests read the counter themselves");
        }
    }
}

/// Returns once every serving instance applied revocation counter `counter`
/// (its row says `seen >= counter`), or [`LEASE`] after this call began: by
/// then every lease granted before `counter` was committed has lapsed. Called
/// by the stores after a transaction that moved the counter commits, so that
/// what acknowledges the change does so only then.
///
/// A row still behind at the end whose beat stood still for all of [`LEASE`]
/// (a stopped or dead instance) is deleted, at that beat, so the next change
/// does not wait for it: its lease lapsed before (see the module doc).
pub fn settle(store: &dyn Store, counter: i64) {
    // Moved to a LEASE after the first read that ends, so that rows that read
    // saw have been watched for a whole LEASE at the end.
    let mut deadline = Instant::now() + LEASE;
    let mut first_read = true;
    // Each behind row's beat, and when a read that ended then first saw it.
    let mut first_seen: HashMap<String, (i64, Instant)> = HashMap::new();
    let mut behind: Vec<Instance> = Vec::new();
    loop {
        match store.instances() {
            Ok(rows) => {
                let read_at = Instant::now();
                if first_read {
                    first_read = false;
                    deadline = deadline.max(read_at + LEASE);
                }
                behind = rows.into_iter().filter(|row| row.seen < counter).collect();
                if behind.is_empty() {
                    return;
                }
                for row in &behind {
                    first_seen
                        .entry(row.id.clone())
                        .or_insert((row.beat, read_at));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the serving instances; waiting out the lease");
            }
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep(SETTLE_POLL.min(deadline - now));
    }
    for row in behind {
        let stood_still = first_seen
            .get(&row.id)
            .is_some_and(|&(beat, at)| beat == row.beat && at.elapsed() >= LEASE);
        if stood_still && store.forget_instance(&row.id, row.beat).unwrap_or(false) {
            tracing::warn!(
                instance = %row.id,
                "an instance did not apply a change within the lease and its beat stood still: forgotten"
            );
        } else {
            tracing::warn!(
                instance = %row.id,
                "an instance did not report a change within the lease; its lease has lapsed"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;
    use crate::store::tests::temp_db;
    use std::path::Path;

    /// Short intervals, still safe.
    const FAST: Timing = Timing {
        hold: Duration::from_millis(300),
        poll: Duration::from_millis(2),
        idle_poll: Duration::from_millis(10),
        beat: Duration::from_millis(50),
        forget_after: Duration::from_millis(400),
    };

    /// A store on `path`, as another process would open it.
    fn open(path: &Path) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(path).unwrap())
    }

    /// A session that a logout can end: user alice, family `f`.
    fn session(store: &dyn Store, family: &str) {
        if store.credentials("alice").unwrap().is_none() {
            store.add_user("alice", "h").unwrap();
        }
        store
            .create_family(family, "alice", "r1", i64::MAX)
            .unwrap();
    }

    /// Waits (bounded) until `lease` holds.
    fn holding(lease: &Lease) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(counter) = lease.counter() {
                return counter;
            }
            assert!(Instant::now() < deadline, "the lease never held");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn the_default_timing_is_safe_and_unsafe_timing_is_refused() {
        assert!(Timing::DEFAULT.is_safe());
        assert!(FAST.is_safe());
        let (_dir, path) = temp_db("lease");
        for unsafe_timing in [
            Timing {
                hold: LEASE,
                ..FAST
            },
            Timing {
                forget_after: FAST.hold,
                ..FAST
            },
            Timing {
                beat: FAST.hold,
                ..FAST
            },
            Timing {
                idle_poll: FAST.beat,
                ..FAST
            },
        ] {
            assert!(!unsafe_timing.is_safe());
            assert!(Watcher::start(open(&path), unsafe_timing).is_err());
        }
    }

    #[test]
    fn a_lease_holds_until_its_time_and_not_after() {
        let lease = Lease::new();
        assert_eq!(lease.counter(), None);
        lease.raise(7);
        lease.raise(5);
        lease.hold_until(Some(Instant::now() + Duration::from_secs(60)));
        assert_eq!(lease.counter(), Some(7));
        lease.hold_until(Some(Instant::now()));
        assert_eq!(lease.counter(), None);
        lease.hold_until(None);
        assert_eq!(lease.counter(), None);
    }

    #[test]
    fn a_watcher_polls_fast_only_while_requests_take_the_lease() {
        let (_dir, path) = temp_db("lease");
        let mut keeper = Keeper::new(open(&path), FAST, "k".into());
        assert_eq!(keeper.pause(), FAST.idle_poll);
        let _ = keeper.lease.counter();
        assert_eq!(keeper.pause(), FAST.poll);
        // Still busy within BUSY_FOR of the last request, though none came since.
        assert_eq!(keeper.pause(), FAST.poll);
        keeper.last_asked = Instant::now().checked_sub(BUSY_FOR);
        assert_eq!(keeper.pause(), FAST.idle_poll);
    }

    /// Each logout on another process's store returns only once the watcher's
    /// lease has it, and well before the lease would have run out.
    #[test]
    fn a_change_returns_once_every_running_watcher_applied_it() {
        let (_dir, path) = temp_db("lease");
        let (served, writer) = (open(&path), open(&path));
        let watcher = Watcher::start(Arc::clone(&served), FAST).unwrap();
        let lease = watcher.lease();
        holding(&lease);
        for i in 0..20 {
            let family = format!("f{i}");
            session(writer.as_ref(), &family);
            let before = Instant::now();
            writer.logout(&family, &format!("j{i}"), i64::MAX).unwrap();
            let took = before.elapsed();
            let counter = writer.revocation_counter().unwrap();
            assert!(
                lease.known() >= counter && lease.counter().is_none_or(|c| c >= counter),
                "logout {i} returned before the watcher applied it"
            );
            assert!(took < LEASE, "logout {i} waited out the lease ({took:?})");
        }
        let rows = writer.instances().unwrap();
        assert_eq!(rows.len(), 1);
        drop(watcher);
        assert_eq!(lease.counter(), None);
        assert!(
            writer.instances().unwrap().is_empty(),
            "the row outlived its watcher"
        );
    }

    /// An instance that stops (a stopped process): a logout elsewhere waits
    /// until the instance's lease has lapsed, so a request it takes after
    /// resuming reads the counter itself; and deletes its row, which stood
    /// still all along.
    #[test]
    fn a_change_waits_out_the_lease_of_a_stopped_instance() {
        let (_dir, path) = temp_db("lease");
        let (served, writer) = (open(&path), open(&path));
        let mut stopped = Keeper::new(served, FAST, "stopped".into());
        stopped.step();
        let before_logout = stopped.lease.counter().expect("the lease holds");
        session(writer.as_ref(), "f");
        let before = Instant::now();
        writer.logout("f", "j", i64::MAX).unwrap();
        assert!(before.elapsed() >= FAST.hold);
        assert_eq!(
            stopped.lease.counter(),
            None,
            "a stale lease outlived the change"
        );
        // Its beat stood still through the whole wait: its row went, so the
        // next change does not wait for it.
        assert!(
            writer.instances().unwrap().is_empty(),
            "the stopped row stayed"
        );
        session(writer.as_ref(), "g");
        let before = Instant::now();
        writer.logout("g", "j2", i64::MAX).unwrap();
        assert!(
            before.elapsed() < FAST.hold,
            "the next change waited for a forgotten row"
        );
        // Resumed, it finds its row gone, then registers again and holds with
        // both changes.
        stopped.last_attempt = None;
        stopped.step();
        assert_eq!(stopped.lease.counter(), None);
        stopped.step();
        assert!(stopped.lease.counter() >= Some(before_logout + 2));
    }

    /// A crashed instance's row is forgotten once its beat stood still for
    /// `forget_after`, and changes stop waiting for it; if it was only slow, it
    /// finds its row gone, lets its lease lapse, and registers again.
    #[test]
    fn an_instance_that_stopped_beating_is_forgotten_and_can_come_back() {
        let (_dir, path) = temp_db("lease");
        let writer = open(&path);
        let mut gone = Keeper::new(open(&path), FAST, "gone".into());
        gone.step();
        assert!(gone.lease.counter().is_some());
        let alive = Watcher::start(open(&path), FAST).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let gone_id = gone.row.as_ref().unwrap().id.clone();
        while writer.instances().unwrap().iter().any(|r| r.id == gone_id) {
            assert!(
                Instant::now() < deadline,
                "the stale row was never forgotten"
            );
            std::thread::sleep(FAST.poll);
        }
        assert_eq!(
            gone.lease.counter(),
            None,
            "the forgotten instance still held its lease"
        );
        // Only the running watcher is waited for now.
        session(writer.as_ref(), "f");
        let before = Instant::now();
        writer.logout("f", "j", i64::MAX).unwrap();
        assert!(
            before.elapsed() < LEASE,
            "the change waited for a forgotten row"
        );
        assert!(alive.lease().known() >= writer.revocation_counter().unwrap());
        // The slow one comes back: its next write finds no row.
        gone.last_attempt = None;
        gone.step();
        assert!(gone.row.is_none(), "the forgotten instance kept its row");
        assert_eq!(gone.lease.counter(), None);
        gone.step();
        let ids: Vec<String> = writer
            .instances()
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        // Under a new id: whoever saw the old row never takes this one for it.
        let new_id = gone.row.as_ref().unwrap().id.clone();
        assert_ne!(new_id, gone_id);
        assert!(new_id.starts_with("gone-"), "{new_id}");
        assert!(ids.contains(&new_id), "{ids:?}");
        assert!(!ids.contains(&gone_id), "{ids:?}");
        assert!(gone.lease.counter().is_some());
    }
}

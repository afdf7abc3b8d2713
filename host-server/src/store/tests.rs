//! The same checks on both stores: each SQLite check is its own test; the
//! PostgreSQL ones run in one test, one fresh database each, on a throwaway
//! cluster (skipped with a printed reason when none can be started, unless
//! `LATCHKEY_REQUIRE_POSTGRES=1`).

use super::*;
use latchkey_harness::Postgres;

/// Opens another store on the same database (another server process, the CLI).
type Open<'a> = &'a dyn Fn() -> Arc<dyn Store>;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn users_grants_and_conflicts(open: Open<'_>) {
    let s = open();
    s.add_user("alice", "$argon2id$x").unwrap();
    assert!(matches!(s.add_user("alice", "y"), Err(Error::Conflict(_))));
    s.add_user("bob'; DROP TABLE users; --", "h").unwrap();
    s.add_user("Zed", "h").unwrap();
    assert_eq!(
        s.list_users().unwrap(),
        names(&["Zed", "alice", "bob'; DROP TABLE users; --"])
    );
    s.grant("alice", "door-*", &names(&["open", "close"]))
        .unwrap();
    s.grant("alice", "door-*", &names(&["open"])).unwrap();
    assert!(matches!(
        s.grant("nobody", "*", &names(&["open"])),
        Err(Error::NotFound(_))
    ));
    let g = s.grants("alice").unwrap();
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].commands, names(&["close", "open"]));
    assert!(g[0].allows("door-1", "open"));
    assert!(!g[0].allows("door-1", "led"));
    assert!(!g[0].allows("gate-1", "open"));
    assert_eq!(
        s.revoke_grant("alice", "door-*", &names(&["open"]))
            .unwrap(),
        1
    );
    assert_eq!(s.revoke_grant("nobody", "door-*", &[]).unwrap(), 0);
    assert_eq!(s.grants("alice").unwrap()[0].commands, names(&["close"]));
    let alice = s.credentials("alice").unwrap().unwrap();
    assert_eq!(alice.phc, "$argon2id$x");
    assert_eq!(
        s.password_hash("alice").unwrap().as_deref(),
        Some("$argon2id$x")
    );
    s.remove_user("alice").unwrap();
    assert!(s.credentials("alice").unwrap().is_none());
    assert!(s.grants("alice").unwrap().is_empty());
    assert!(matches!(s.remove_user("alice"), Err(Error::NotFound(_))));
    s.add_device("door-1", "front", "EdDSA").unwrap();
    assert!(matches!(
        s.add_device("door-1", "again", "HS256"),
        Err(Error::Conflict(_))
    ));
    s.add_device("a-gate", "", "HS256").unwrap();
    assert!(s.device_exists("door-1").unwrap());
    assert!(!s.device_exists("door-2").unwrap());
    let ids: Vec<String> = s
        .list_devices()
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, names(&["a-gate", "door-1"]));
}

fn rotation_detects_reuse_and_survives_reopen(open: Open<'_>) {
    let s = open();
    s.add_user("alice", "h").unwrap();
    s.create_family("f1", "alice", "j1", 100).unwrap();
    assert_eq!(s.rotate("f1", "j1", "j2", 200).unwrap(), Rotation::Rotated);
    assert!(!s.access_revoked("a1", "f1", "alice").unwrap());
    drop(s);
    let s = open();
    let before = s.revocation_counter().unwrap();
    assert_eq!(s.rotate("f1", "j1", "j3", 200).unwrap(), Rotation::Reused);
    assert!(s.revocation_counter().unwrap() > before);
    assert_eq!(s.rotate("f1", "j2", "j3", 200).unwrap(), Rotation::Revoked);
    assert!(s.access_revoked("a1", "f1", "alice").unwrap());
    assert_eq!(s.rotate("nope", "j1", "j2", 1).unwrap(), Rotation::Unknown);
    assert!(matches!(
        s.create_family("f2", "ghost", "j1", 100),
        Err(Error::NotFound(_))
    ));
}

fn logout_revokes_and_prune_forgets_expired(open: Open<'_>) {
    let s = open();
    s.add_user("alice", "h").unwrap();
    s.create_family("f1", "alice", "j1", 1_000).unwrap();
    s.create_family("f2", "alice", "j2", 5_000).unwrap();
    let before = s.revocation_counter().unwrap();
    s.logout("f1", "a1", 500).unwrap();
    assert!(s.revocation_counter().unwrap() > before);
    // The revoked jti is dead in any family; the revoked family for any jti.
    assert!(s.access_revoked("a1", "f2", "alice").unwrap());
    assert!(s.access_revoked("a2", "f1", "alice").unwrap());
    assert!(!s.access_revoked("a2", "f2", "alice").unwrap());
    // A family that does not exist, or that is not this user's, is dead.
    assert!(s.access_revoked("a2", "f9", "alice").unwrap());
    assert!(s.access_revoked("a2", "f2", "ghost").unwrap());
    s.grant("alice", "door-1", &names(&["open", "close"]))
        .unwrap();
    s.grant("alice", "*", &names(&["status"])).unwrap();
    let g = s.session("a2", "f2", "alice").unwrap().unwrap();
    assert_eq!(*g, *s.grants("alice").unwrap());
    assert_eq!(g.len(), 2);
    assert_eq!(s.session("a1", "f2", "alice").unwrap(), None);
    assert_eq!(s.session("a2", "f1", "alice").unwrap(), None);
    assert_eq!(s.session("a2", "f2", "ghost").unwrap(), None);
    s.add_user("bob", "h").unwrap();
    s.create_family("f3", "bob", "j3", 5_000).unwrap();
    assert_eq!(s.session("a3", "f3", "bob").unwrap(), Some(Arc::from([])));
    // The revoked jti (expires 500), family f1 (1000).
    assert_eq!(s.prune(600).unwrap(), 1);
    assert!(!s.access_revoked("a1", "f2", "alice").unwrap());
    assert_eq!(s.prune(2_000).unwrap(), 1);
    assert_eq!(s.rotate("f1", "j1", "j9", 1).unwrap(), Rotation::Unknown);
}

/// Two stores on one database stand for two server processes (or the CLI): what
/// one commits, the other's cached sessions see at the next call.
fn cached_sessions_see_commits_from_other_stores(open: Open<'_>) {
    let (a, b) = (open(), open());
    let sessions = crate::sessions::Sessions::new(Arc::clone(&a));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let session = |jti: &str, family: &str, username: &str| {
        runtime
            .block_on(sessions.session(jti, family, username))
            .unwrap()
    };
    a.add_user("alice", "h").unwrap();
    a.grant("alice", "door-1", &names(&["open"])).unwrap();
    a.create_family("f1", "alice", "r1", i64::MAX).unwrap();
    a.create_family("f2", "alice", "r2", i64::MAX).unwrap();
    let first = session("j1", "f1", "alice").unwrap();
    assert_eq!(first[0].commands, names(&["open"]));
    // Answered from the cache: the same allocation.
    let again = session("j1", "f1", "alice").unwrap();
    assert!(Arc::ptr_eq(&first, &again));

    b.grant("alice", "door-1", &names(&["close"])).unwrap();
    let grants = session("j1", "f1", "alice").unwrap();
    assert_eq!(grants[0].commands, names(&["close", "open"]));

    b.logout("f1", "j1", i64::MAX).unwrap();
    assert_eq!(session("j1", "f1", "alice"), None);

    assert!(session("j2", "f2", "alice").is_some());
    b.remove_user("alice").unwrap();
    assert_eq!(session("j2", "f2", "alice"), None);
    // A cached answer is only for the family and user it was read for.
    a.add_user("bob", "h").unwrap();
    a.create_family("f3", "bob", "r3", i64::MAX).unwrap();
    assert!(session("j3", "f3", "bob").is_some());
    assert_eq!(session("j3", "f3", "alice"), None);
    assert_eq!(session("j3", "f2", "bob"), None);
}

/// A session belongs to the user row it started for: removed with it, and never
/// handed to a new user of the same name (a login that raced `user remove`).
fn sessions_end_with_their_user(open: Open<'_>) {
    let s = open();
    s.add_user("alice", "old").unwrap();
    s.grant("alice", "*", &names(&["*"])).unwrap();
    let old = s.credentials("alice").unwrap().unwrap();
    assert!(s.start_session("f1", old.user_id, "r1", i64::MAX).unwrap());
    s.remove_user("alice").unwrap();
    // A login that checked the old password finishes after the removal...
    assert!(!s.start_session("f2", old.user_id, "r2", i64::MAX).unwrap());
    s.add_user("alice", "new").unwrap();
    let new = s.credentials("alice").unwrap().unwrap();
    assert_ne!(new.user_id, old.user_id, "ids are never reused");
    // ... or after the name was added again: still nothing for it.
    assert!(!s.start_session("f3", old.user_id, "r3", i64::MAX).unwrap());
    // The old sessions are gone: their tokens get nothing of the new user's.
    assert_eq!(
        s.rotate("f1", "r1", "r9", i64::MAX).unwrap(),
        Rotation::Unknown
    );
    assert_eq!(s.session("a1", "f1", "alice").unwrap(), None);
    assert!(s.grants("alice").unwrap().is_empty());
    assert!(s.start_session("f4", new.user_id, "r4", i64::MAX).unwrap());
    assert_eq!(s.session("a4", "f4", "alice").unwrap(), Some(Arc::from([])));
}

fn attempts_are_reserved_all_or_nothing(open: Open<'_>) {
    let s = open();
    let limits = |user: u32, address: u32| {
        [
            AttemptLimit {
                key: "u:alice",
                max: user,
            },
            AttemptLimit {
                key: "a:10.0.0.1",
                max: address,
            },
        ]
    };
    let granted = |r: Reservation| match r {
        Reservation::Granted(slots) => slots,
        Reservation::Refused { retry_after } => panic!("refused, retry after {retry_after}"),
    };
    let first = granted(s.reserve_attempts(&limits(2, 3), 1_000, 60).unwrap());
    assert_eq!(
        first,
        [
            Slot {
                key: "u:alice".into(),
                window_end: 1_060
            },
            Slot {
                key: "a:10.0.0.1".into(),
                window_end: 1_060
            }
        ]
    );
    granted(s.reserve_attempts(&limits(2, 3), 1_010, 60).unwrap());
    // The user is full: refused, and the address took nothing.
    assert_eq!(
        s.reserve_attempts(&limits(2, 3), 1_020, 60).unwrap(),
        Reservation::Refused { retry_after: 40 }
    );
    let other = [AttemptLimit {
        key: "a:10.0.0.1",
        max: 3,
    }];
    granted(s.reserve_attempts(&other, 1_020, 60).unwrap());
    assert!(matches!(
        s.reserve_attempts(&other, 1_020, 60).unwrap(),
        Reservation::Refused { .. }
    ));
    // Giving one back (the first) frees a place; forgetting the user frees it all.
    s.settle_attempts(&first, &["u:alice"]).unwrap();
    granted(s.reserve_attempts(&limits(2, 3), 1_030, 60).unwrap());
    // The user's window started with the attempt after the forgetting; the
    // address's ended, so a new one starts.
    let late = granted(s.reserve_attempts(&limits(5, 5), 1_060, 60).unwrap());
    assert_eq!((late[0].window_end, late[1].window_end), (1_090, 1_120));
    // A slot of an ended window is not given back to the next one.
    s.settle_attempts(&first, &[]).unwrap();
    let two = [AttemptLimit {
        key: "a:10.0.0.1",
        max: 2,
    }];
    granted(s.reserve_attempts(&two, 1_061, 60).unwrap());
    assert!(matches!(
        s.reserve_attempts(&two, 1_061, 60).unwrap(),
        Reservation::Refused { .. }
    ));
    // Pruning forgets windows that ended.
    assert!(s.prune(1_120).unwrap() >= 2);
    granted(s.reserve_attempts(&limits(1, 1), 1_120, 60).unwrap());
}

/// Reservations from many threads on two stores (two instances) at once: exactly
/// the limit is granted.
fn concurrent_reservations_never_exceed_the_limit(open: Open<'_>) {
    let stores = [open(), open()];
    let granted = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let s = Arc::clone(&stores[i % 2]);
                scope.spawn(move || {
                    let limits = [
                        AttemptLimit {
                            key: "u:bob",
                            max: 5,
                        },
                        AttemptLimit {
                            key: "a:127.0.0.1",
                            max: 50,
                        },
                    ];
                    matches!(
                        s.reserve_attempts(&limits, 2_000, 60).unwrap(),
                        Reservation::Granted(_)
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&g| g)
            .count()
    });
    assert_eq!(granted, 5);
}

fn command_tokens_are_audited(open: Open<'_>) {
    let s = open();
    let record = |n: u8, user: &str, device: &str| CommandRecord {
        jti: format!("jti-{n}"),
        issued_at: 1_000 + i64::from(n),
        expires_at: 1_060 + i64::from(n),
        username: user.into(),
        device: device.into(),
        command: if n.is_multiple_of(2) { "led" } else { "open" }.into(),
        arg: n.is_multiple_of(2).then_some(n),
        source: "api".into(),
        seq: (n > 2).then_some(u64::from(n) * 10),
    };
    for (n, user, device) in [
        (1, "alice", "door-1"),
        (2, "bob", "door-1"),
        (3, "alice", "gate"),
        (4, "alice", "door-1"),
    ] {
        s.record_command(&record(n, user, device)).unwrap();
    }
    let all = AuditFilter {
        limit: 10,
        ..AuditFilter::default()
    };
    assert_eq!(
        s.command_records(&all).unwrap(),
        [
            record(1, "alice", "door-1"),
            record(2, "bob", "door-1"),
            record(3, "alice", "gate"),
            record(4, "alice", "door-1")
        ]
    );
    let jtis = |f: AuditFilter| -> Vec<String> {
        s.command_records(&f)
            .unwrap()
            .into_iter()
            .map(|r| r.jti)
            .collect()
    };
    assert_eq!(
        jtis(AuditFilter {
            username: Some("alice".into()),
            device: Some("door-1".into()),
            limit: 10
        }),
        names(&["jti-1", "jti-4"])
    );
    assert_eq!(
        jtis(AuditFilter {
            limit: 2,
            ..AuditFilter::default()
        }),
        names(&["jti-3", "jti-4"])
    );
    assert_eq!(s.prune(i64::MAX).unwrap(), 0, "audit records are kept");
    assert_eq!(s.command_records(&all).unwrap().len(), 4);
}

/// The audit record of a token `user` asks for on `device` at `now`.
fn ask(user: &str, device: &str, now: i64) -> CommandRecord {
    CommandRecord {
        jti: format!("{user}-{now}"),
        issued_at: now,
        expires_at: now + 60,
        username: user.into(),
        device: device.into(),
        command: "status".into(),
        arg: None,
        source: "api".into(),
        seq: None,
    }
}

/// A limit no test reaches, for the checks of `seq` alone.
const NO_LIMIT: IssueLimit = IssueLimit {
    max: u32::MAX,
    window: 300,
};

fn seq_of(issuance: Issuance) -> u64 {
    match issuance {
        Issuance::Granted { seq, .. } => seq,
        Issuance::Refused { retry_after } => panic!("refused, retry after {retry_after}"),
    }
}

/// Devices keep their algorithm; `seq` counts per device from 1, is recorded
/// with the token, and is refused for unknown devices; trust epochs count per
/// device from 1.
fn devices_keep_alg_seq_and_epoch(open: Open<'_>) {
    let s = open();
    s.add_device("door-1", "front", "EdDSA").unwrap();
    s.add_device("gate", "", "HS256").unwrap();
    let alg = |id: &str| s.device(id).unwrap().unwrap().command_alg;
    assert_eq!(alg("door-1").as_deref(), Some("EdDSA"));
    s.set_command_alg("door-1", "ES256").unwrap();
    assert_eq!(alg("door-1").as_deref(), Some("ES256"));
    assert!(matches!(
        s.set_command_alg("nope", "EdDSA"),
        Err(Error::NotFound(_))
    ));
    assert!(s.device("nope").unwrap().is_none());
    let granted = s
        .issue_command(&ask("alice", "door-1", 1_000), NO_LIMIT)
        .unwrap();
    assert_eq!(
        granted,
        Issuance::Granted {
            seq: 1,
            command_alg: Some("ES256".into())
        }
    );
    assert_eq!(
        seq_of(
            s.issue_command(&ask("bob", "door-1", 1_001), NO_LIMIT)
                .unwrap()
        ),
        2
    );
    assert_eq!(
        seq_of(
            s.issue_command(&ask("bob", "gate", 1_001), NO_LIMIT)
                .unwrap()
        ),
        1
    );
    assert!(matches!(
        s.issue_command(&ask("bob", "nope", 1_001), NO_LIMIT),
        Err(Error::NotFound(_))
    ));
    let records = s
        .command_records(&AuditFilter {
            device: Some("door-1".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .unwrap();
    let seqs: Vec<Option<u64>> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [Some(1), Some(2)]);
    assert_eq!(s.device("gate").unwrap().unwrap().trust_epoch, 0);
    assert_eq!(s.next_trust_epoch("gate").unwrap(), 1);
    assert_eq!(open().next_trust_epoch("gate").unwrap(), 2);
    assert_eq!(s.next_trust_epoch("door-1").unwrap(), 1);
    assert_eq!(s.device("gate").unwrap().unwrap().trust_epoch, 2);
    assert!(matches!(
        s.next_trust_epoch("nope"),
        Err(Error::NotFound(_))
    ));
}

/// Tokens issued from many threads on two stores (two instances) at once get
/// distinct sequence numbers with no gap: 1 to N.
fn concurrent_issuance_hands_out_each_seq_once(open: Open<'_>) {
    open().add_device("door-1", "", "EdDSA").unwrap();
    let stores = [open(), open()];
    let mut seqs: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let s = Arc::clone(&stores[t % 2]);
                scope.spawn(move || {
                    (0..10)
                        .map(|i| {
                            let user = format!("u{t}");
                            seq_of(
                                s.issue_command(&ask(&user, "door-1", 1_000 + i), NO_LIMIT)
                                    .unwrap(),
                            )
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=80).collect::<Vec<u64>>());
}

/// The per-user limit: `max` tokens per user and device within the window,
/// other users and devices unaffected, a refusal takes no `seq` and records
/// nothing, and says when the oldest token leaves the window.
fn issuance_is_limited_per_user_and_device(open: Open<'_>) {
    let s = open();
    s.add_device("door-1", "", "EdDSA").unwrap();
    s.add_device("door-2", "", "EdDSA").unwrap();
    let limit = IssueLimit {
        max: 3,
        window: 300,
    };
    for now in [1_000, 1_010, 1_020] {
        seq_of(
            s.issue_command(&ask("alice", "door-1", now), limit)
                .unwrap(),
        );
    }
    assert_eq!(
        s.issue_command(&ask("alice", "door-1", 1_100), limit)
            .unwrap(),
        Issuance::Refused { retry_after: 200 }
    );
    // Another user, another device: their own counts.
    assert_eq!(
        seq_of(
            s.issue_command(&ask("bob", "door-1", 1_100), limit)
                .unwrap()
        ),
        4
    );
    assert_eq!(
        seq_of(
            s.issue_command(&ask("alice", "door-2", 1_100), limit)
                .unwrap()
        ),
        1
    );
    // Once the first token has left the window, one more.
    assert_eq!(
        seq_of(
            s.issue_command(&ask("alice", "door-1", 1_300), limit)
                .unwrap()
        ),
        5
    );
    assert_eq!(
        s.issue_command(&ask("alice", "door-1", 1_305), limit)
            .unwrap(),
        Issuance::Refused { retry_after: 5 }
    );
    let all = AuditFilter {
        username: Some("alice".into()),
        device: Some("door-1".into()),
        limit: 100,
    };
    assert_eq!(s.command_records(&all).unwrap().len(), 4);
}

/// Many requests of one user at once, on two stores: exactly the limit is granted.
fn concurrent_issuance_never_exceeds_the_limit(open: Open<'_>) {
    open().add_device("door-1", "", "EdDSA").unwrap();
    let stores = [open(), open()];
    let limit = IssueLimit::CONTRACT;
    let granted = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..40)
            .map(|i| {
                let s = Arc::clone(&stores[i % 2]);
                scope.spawn(move || {
                    let mut record = ask("alice", "door-1", 5_000);
                    record.jti = format!("j{i}");
                    matches!(
                        s.issue_command(&record, limit).unwrap(),
                        Issuance::Granted { .. }
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&g| g)
            .count()
    });
    assert_eq!(granted, latchkey_protocol::MAX_TOKENS_PER_USER as usize);
}

/// One check, given a way to open stores on one fresh database.
type Check = fn(Open<'_>);

/// Every check, by name (the PostgreSQL test runs them all on one cluster).
/// Instance rows: registered once, `seen` only rises, every report moves the
/// beat, a report for a row that is gone says so, and a row is forgotten only
/// at the beat it was last seen with.
fn instances_report_beat_and_are_forgotten(open: Open<'_>) {
    let s = open();
    let t = open();
    assert!(s.instances().unwrap().is_empty());
    s.register_instance("a", 3).unwrap();
    assert!(matches!(
        s.register_instance("a", 0),
        Err(Error::Conflict(_))
    ));
    t.register_instance("b", i64::MIN).unwrap();
    assert!(s.report_instance("a", 5).unwrap());
    assert!(s.report_instance("a", 4).unwrap());
    let mut rows = t.instances().unwrap();
    rows.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(
        rows,
        vec![
            Instance {
                id: "a".into(),
                seen: 5,
                beat: 2
            },
            Instance {
                id: "b".into(),
                seen: i64::MIN,
                beat: 0
            },
        ]
    );
    assert!(
        !t.forget_instance("a", 1).unwrap(),
        "forgot a row that beat since"
    );
    assert!(t.forget_instance("a", 2).unwrap());
    assert!(!s.report_instance("a", 6).unwrap());
    assert!(!s.report_instance("nobody", 6).unwrap());
    let ids: Vec<String> = s.instances().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, names(&["b"]));
}

const CHECKS: &[(&str, Check)] = &[
    ("users_grants_and_conflicts", users_grants_and_conflicts),
    (
        "instances_report_beat_and_are_forgotten",
        instances_report_beat_and_are_forgotten,
    ),
    (
        "rotation_detects_reuse_and_survives_reopen",
        rotation_detects_reuse_and_survives_reopen,
    ),
    (
        "logout_revokes_and_prune_forgets_expired",
        logout_revokes_and_prune_forgets_expired,
    ),
    (
        "cached_sessions_see_commits_from_other_stores",
        cached_sessions_see_commits_from_other_stores,
    ),
    ("sessions_end_with_their_user", sessions_end_with_their_user),
    (
        "attempts_are_reserved_all_or_nothing",
        attempts_are_reserved_all_or_nothing,
    ),
    (
        "concurrent_reservations_never_exceed_the_limit",
        concurrent_reservations_never_exceed_the_limit,
    ),
    ("command_tokens_are_audited", command_tokens_are_audited),
    (
        "devices_keep_alg_seq_and_epoch",
        devices_keep_alg_seq_and_epoch,
    ),
    (
        "concurrent_issuance_hands_out_each_seq_once",
        concurrent_issuance_hands_out_each_seq_once,
    ),
    (
        "issuance_is_limited_per_user_and_device",
        issuance_is_limited_per_user_and_device,
    ),
    (
        "concurrent_issuance_never_exceeds_the_limit",
        concurrent_issuance_never_exceeds_the_limit,
    ),
    (
        "key_rings_are_shared_through_the_store",
        key_rings_are_shared_through_the_store,
    ),
];

/// The rings through the store: a key file's rings imported once; a key added
/// by one store instance (a `keys rotate` by the CLI or another server) seen by
/// another at once, with a new ring version, signing there and verifying here;
/// a retirement likewise; a wrong KEK refused naming the key file.
fn key_rings_are_shared_through_the_store(open: Open<'_>) {
    use crate::keys::{KeySet, Ring, SessionKey};
    use crate::tokens::{Kind, Lifetimes, TokenService};
    let (a, b) = (open(), open());
    let keys = KeySet::development();
    let kek = keys.kek();
    let empty = a.key_ring().unwrap();
    assert_eq!((empty.version, empty.keys.len()), (0, 0));
    assert!(a.import_key_ring(&keys.stored_keys(&kek).unwrap()).unwrap());
    assert!(!b.import_key_ring(&keys.stored_keys(&kek).unwrap()).unwrap());
    let v1 = b.key_ring_version().unwrap();
    assert_eq!(v1, 1);
    let on_b = keys
        .with_stored_rings(&b.key_ring().unwrap(), &kek)
        .unwrap();
    assert_eq!(
        (&on_b.session_keys, &on_b.command_keys),
        (&keys.session_keys, &keys.command_keys)
    );

    let new = SessionKey::generate(latchkey_core::Algorithm::EdDsa, 5).unwrap();
    let v2 = a.add_ring_key(&new.stored(&kek, 5).unwrap()).unwrap();
    assert!(v2 > v1);
    assert_eq!(b.key_ring_version().unwrap(), v2);
    let on_b = keys
        .with_stored_rings(&b.key_ring().unwrap(), &kek)
        .unwrap();
    assert_eq!(on_b.session_keys[0], new);
    assert_eq!(on_b.session_keys.len(), 2);
    let signer = TokenService::new(&on_b, Lifetimes::default()).unwrap();
    let t = signer.issue_access("alice", "f", true, 1_000).unwrap();
    let on_a = keys
        .with_stored_rings(&a.key_ring().unwrap(), &kek)
        .unwrap();
    let verifier = TokenService::new(&on_a, Lifetimes::default()).unwrap();
    assert_eq!(
        verifier.verify(&t.token, Kind::Access, 1_000).unwrap().jti,
        t.jti
    );
    assert!(matches!(
        a.add_ring_key(&new.stored(&kek, 5).unwrap()),
        Err(Error::Conflict(_))
    ));

    let v3 = b.retire_ring_key(Ring::Session.name(), "dev-1").unwrap();
    assert!(v3 > v2);
    assert_eq!(a.key_ring_version().unwrap(), v3);
    let on_a = keys
        .with_stored_rings(&a.key_ring().unwrap(), &kek)
        .unwrap();
    assert_eq!(on_a.session_keys, [new]);
    assert!(matches!(
        a.retire_ring_key("session", "dev-1"),
        Err(Error::NotFound(_))
    ));
    let other = KeySet {
        master_secret: vec![8; 32],
        ..KeySet::development()
    };
    let err = other
        .with_stored_rings(&a.key_ring().unwrap(), &other.kek())
        .unwrap_err();
    assert!(err.to_string().contains("key-encryption key"), "{err}");
}

/// A database path in a fresh directory, removed when the guard drops.
pub(crate) fn temp_db(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("latchkey-store-{name}-"))
        .tempdir()
        .unwrap();
    let path = dir.path().join("test.db");
    (dir, path)
}

fn on_sqlite(name: &str) {
    let (_dir, path) = temp_db(name);
    let open = || -> Arc<dyn Store> { Arc::new(SqliteStore::open(&path).unwrap()) };
    let check = CHECKS.iter().find(|(n, _)| *n == name).unwrap().1;
    check(&open);
}

macro_rules! sqlite_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::on_sqlite(stringify!($name));
            })*

            #[test]
            fn every_check_has_a_test() {
                let tested = [$(stringify!($name)),*];
                for (name, _) in super::CHECKS {
                    assert!(tested.contains(name), "{name} has no SQLite test");
                }
            }
        }
    };
}

sqlite_tests!(
    users_grants_and_conflicts,
    instances_report_beat_and_are_forgotten,
    rotation_detects_reuse_and_survives_reopen,
    logout_revokes_and_prune_forgets_expired,
    cached_sessions_see_commits_from_other_stores,
    sessions_end_with_their_user,
    attempts_are_reserved_all_or_nothing,
    concurrent_reservations_never_exceed_the_limit,
    command_tokens_are_audited,
    devices_keep_alg_seq_and_epoch,
    concurrent_issuance_hands_out_each_seq_once,
    issuance_is_limited_per_user_and_device,
    concurrent_issuance_never_exceeds_the_limit,
    key_rings_are_shared_through_the_store,
);

#[test]
fn every_check_on_postgres() {
    let Some(pg) = Postgres::for_test("store::tests::every_check_on_postgres").unwrap() else {
        return;
    };
    for (name, check) in CHECKS {
        let url = pg.create_database(name).unwrap();
        let open = || -> Arc<dyn Store> { Arc::new(PostgresStore::open(&url).unwrap()) };
        eprintln!("postgres: {name}");
        check(&open);
    }
}

/// Instances starting together on a fresh database: the migrations run once,
/// under the advisory lock, and every instance opens.
#[test]
fn postgres_instances_starting_together_migrate_once() {
    let Some(pg) =
        Postgres::for_test("store::tests::postgres_instances_starting_together_migrate_once")
            .unwrap()
    else {
        return;
    };
    let url = pg.url();
    let stores: Vec<PostgresStore> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| scope.spawn(|| PostgresStore::open(&url)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    stores[0].add_user("alice", "h").unwrap();
    for s in &stores {
        assert_eq!(s.list_users().unwrap(), names(&["alice"]));
    }
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let versions: Vec<i32> = client
        .query("SELECT version FROM latchkey_schema ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1, 2, 3, 4]);
}

/// A file written by the first schema (users and grants keyed by name) is
/// migrated in place: users, grants, devices and live families survive,
/// families of users removed before do not.
#[test]
fn a_version_1_sqlite_file_is_migrated() {
    let (_dir, path) = temp_db("v1");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(super::sqlite::MIGRATION_1).unwrap();
        conn.execute_batch(
            "INSERT INTO users VALUES ('alice', 'h', 1), ('bob', 'h', 2);
             INSERT INTO grants VALUES ('alice', 'door-*', 'open');
             INSERT INTO devices VALUES ('door-1', 'front', 3);
             INSERT INTO refresh_families VALUES ('f1', 'alice', 'r1', 0, 9999999999);
             INSERT INTO refresh_families VALUES ('f0', 'gone', 'r0', 1, 9999999999);
             INSERT INTO revoked_jti VALUES ('a0', 9999999999);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.list_users().unwrap(), names(&["alice", "bob"]));
    assert_eq!(s.grants("alice").unwrap()[0].commands, names(&["open"]));
    assert!(s.device_exists("door-1").unwrap());
    assert!(s.session("a1", "f1", "alice").unwrap().is_some());
    assert!(s.session("a0", "f1", "alice").unwrap().is_none());
    assert_eq!(s.rotate("f0", "r0", "r1", 1).unwrap(), Rotation::Unknown);
    assert_eq!(s.rotate("f1", "r1", "r2", 1).unwrap(), Rotation::Rotated);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5);
    // Devices registered before keep no algorithm (the key file's binding, else
    // HS256, decides) and count from seq 1.
    assert_eq!(s.device("door-1").unwrap().unwrap().command_alg, None);
    let granted = s
        .issue_command(&ask("alice", "door-1", 1_000), NO_LIMIT)
        .unwrap();
    assert_eq!(
        granted,
        Issuance::Granted {
            seq: 1,
            command_alg: None
        }
    );
    // A newer file than this server knows is refused, not touched.
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    drop(s);
    assert!(matches!(SqliteStore::open(&path), Err(Error::Store(m)) if m.contains("newer")));
}

/// A pooled connection whose write failed is closed, not pooled again: with
/// the database file read-only, writes fail (SQLITE_READONLY); once it is
/// writable again, the next write succeeds. (Root writes to read-only files, so
/// as root the test runs itself again as `nobody`.)
#[cfg(target_os = "linux")]
#[test]
fn a_failed_connection_is_not_pooled_again() {
    const AS_NOBODY: &str = "LATCHKEY_TEST_AS_NOBODY";
    if rustix::process::geteuid().is_root() && std::env::var_os(AS_NOBODY).is_none() {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(exe)
            .args([
                "--exact",
                "store::tests::a_failed_connection_is_not_pooled_again",
                "--nocapture",
            ])
            .env(AS_NOBODY, "1")
            .env("TMPDIR", "/tmp")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "as nobody: {text}");
        assert!(text.contains("1 passed"), "as nobody: {text}");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = temp_db("readonly");
    let chmod = |mode| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
    // Created and migrated; a second store (a second process) keeps it open.
    let first = SqliteStore::open(&path).unwrap();
    first.add_user("alice", "h").unwrap();
    chmod(0o444).unwrap();
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.list_users().unwrap(), names(&["alice"]));
    let refused = s.add_user("bob", "h");
    assert!(
        matches!(&refused, Err(Error::Store(m)) if m.contains("readonly")),
        "{refused:?}"
    );
    assert!(s.add_device("door-1", "", "EdDSA").is_err());
    chmod(0o644).unwrap();
    s.add_user("bob", "h").unwrap();
    s.add_device("door-1", "", "EdDSA").unwrap();
    assert_eq!(first.list_users().unwrap(), names(&["alice", "bob"]));
}

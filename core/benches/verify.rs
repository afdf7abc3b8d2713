//! Wall clock per full verification (signature + claims + validation), side by side
//! in one run: latchkey-core, `jsonwebtoken` under the equivalent policy, and the
//! floor (HMAC-SHA256 over the same signing input from a pre-keyed state).
//!
//! `cargo bench -p latchkey-core --bench verify`; medians are in
//! `target/criterion/<token>/<impl>/new/estimates.json` (BENCHMARKS.md says how
//! the table there is made).

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};

mod common;

fn verify(c: &mut Criterion) {
    let tokens = common::checked_tokens();
    let latchkey = common::latchkey();
    let (jkey, jval) = common::jsonwebtoken();
    let keyed = common::floor();

    for t in &tokens {
        let token = t.token.as_bytes();
        let mut group = c.benchmark_group(t.name);
        group.bench_function("latchkey", |b| {
            let mut scratch = [0u8; common::SCRATCH_LEN];
            b.iter(|| {
                latchkey
                    .verify(black_box(token), black_box(common::NOW), &mut scratch)
                    .map(|claims| claims.exp())
            });
        });
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| jsonwebtoken::decode::<common::Registered>(black_box(token), &jkey, &jval));
        });
        group.bench_function("hmac-floor", |b| {
            b.iter(|| common::floor_mac(&keyed, black_box(t.signing_input())));
        });
        group.finish();
    }

    // jsonwebtoken reads the system clock inside `decode`; latchkey takes the time
    // as an argument. This is what that clock read costs, for comparison.
    c.bench_function("system-clock", |b| b.iter(SystemTime::now));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = verify
}
criterion_main!(benches);

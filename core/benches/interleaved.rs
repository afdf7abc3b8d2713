//! Wall clock on a shared, busy machine: the three implementations take turns in
//! short batches, round after round, so each round's ratios compare runs made
//! under the same load. Prints, per token, the median time per call of each
//! implementation and the median of the per-round ratios, as a Markdown table.
//!
//! `cargo bench -p latchkey-core --bench interleaved` (about 20 s). Criterion's
//! `--bench verify` measures the same cases one after another instead.

use std::hint::black_box;
use std::time::Instant;

mod common;

/// Rounds per token; each round times one batch of every implementation.
const ROUNDS: usize = 201;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Nanoseconds per call of `f`, over a batch of `n` calls.
fn batch(n: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

/// The 1, 5 and 15 minute load averages (Linux), to judge how busy the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn main() {
    let tokens = common::checked_tokens();
    let latchkey = common::latchkey();
    let (jkey, jval) = common::jsonwebtoken();
    let keyed = common::floor();
    let mut scratch = [0u8; common::SCRATCH_LEN];

    println!("load average before: {}", load_average());
    println!(
        "| token | latchkey-core | jsonwebtoken | HMAC floor | jsonwebtoken / latchkey | latchkey / floor |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for t in &tokens {
        let token = t.token.as_bytes();
        let input = t.signing_input();
        // About 2 ms per batch at the speeds seen here.
        let n = (400_000 / token.len()) as u32;
        let (mut lk, mut jw, mut fl) = (Vec::new(), Vec::new(), Vec::new());
        let (mut jw_lk, mut lk_fl) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let a = batch(n, || {
                let r = latchkey.verify(black_box(token), black_box(common::NOW), &mut scratch);
                black_box(r.map(|c| c.exp()).ok());
            });
            let b = batch(n, || {
                let r = jsonwebtoken::decode::<common::Registered>(black_box(token), &jkey, &jval);
                black_box(r.is_ok());
            });
            let c = batch(n, || {
                black_box(common::floor_mac(&keyed, black_box(input)));
            });
            lk.push(a);
            jw.push(b);
            fl.push(c);
            jw_lk.push(b / a);
            lk_fl.push(a / c);
        }
        println!(
            "| {} | {:.0} ns | {:.0} ns | {:.0} ns | {:.2}x | {:.2}x |",
            t.name,
            median(&mut lk),
            median(&mut jw),
            median(&mut fl),
            median(&mut jw_lk),
            median(&mut lk_fl),
        );
    }
    println!("load average after: {}", load_average());
}

//! Instructions per verification under `valgrind --tool=callgrind`, which counts
//! the same on a busy machine as on an idle one.
//!
//! ```text
//! callgrind <latchkey|jsonwebtoken|floor> <short|typical|large> <iterations>
//! callgrind print <short|typical|large> 0      (prints the token)
//! ```
//!
//! Each `measure_*` function runs one implementation `iterations` times and is
//! never inlined, so `--toggle-collect='*measure_*'` counts exactly those calls;
//! the total divided by the iteration count is the cost of one. One untimed call
//! runs first, outside the collected function, so one-time work (lazy statics,
//! first allocations) is not counted. `core/benches/callgrind.sh` runs all nine.

use std::hint::black_box;
use std::process::ExitCode;

use hmac::Hmac;
use latchkey_core::Verifier;
use sha2::Sha256;

#[path = "../benches/common/mod.rs"]
mod common;

/// One latchkey-core verification; `Ok` carries `exp` so nothing is optimized out.
#[inline(never)]
fn latchkey_once(
    v: &Verifier<'_>,
    token: &[u8],
    scratch: &mut [u8],
) -> Result<Option<i64>, latchkey_core::Error> {
    v.verify(black_box(token), black_box(common::NOW), scratch)
        .map(|claims| claims.exp())
}

#[inline(never)]
fn measure_latchkey(v: &Verifier<'_>, token: &[u8], n: u32) {
    // One scratch buffer for all calls, as a server or device keeps one.
    let mut scratch = [0u8; common::SCRATCH_LEN];
    for _ in 0..n {
        let _ = black_box(latchkey_once(v, token, &mut scratch));
    }
}

/// One `jsonwebtoken::decode` under the equivalent policy.
#[inline(never)]
fn jsonwebtoken_once(
    key: &jsonwebtoken::DecodingKey,
    validation: &jsonwebtoken::Validation,
    token: &[u8],
) -> bool {
    jsonwebtoken::decode::<common::Registered>(black_box(token), key, validation).is_ok()
}

#[inline(never)]
fn measure_jsonwebtoken(
    key: &jsonwebtoken::DecodingKey,
    validation: &jsonwebtoken::Validation,
    token: &[u8],
    n: u32,
) {
    for _ in 0..n {
        black_box(jsonwebtoken_once(key, validation, token));
    }
}

/// One HMAC-SHA256 over the signing input from the pre-keyed state.
#[inline(never)]
fn floor_once(keyed: &Hmac<Sha256>, input: &[u8]) -> [u8; 32] {
    common::floor_mac(keyed, black_box(input))
}

#[inline(never)]
fn measure_floor(keyed: &Hmac<Sha256>, input: &[u8], n: u32) {
    for _ in 0..n {
        black_box(floor_once(keyed, input));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(which), Some(name), Some(n)) = (
        args.first(),
        args.get(1),
        args.get(2).and_then(|n| n.parse::<u32>().ok()),
    ) else {
        eprintln!(
            "usage: callgrind <latchkey|jsonwebtoken|floor> <short|typical|large> <iterations>"
        );
        return ExitCode::from(2);
    };
    let tokens = common::checked_tokens();
    let Some(t) = tokens.iter().find(|t| t.name == name) else {
        eprintln!("unknown token {name:?}: short, typical or large");
        return ExitCode::from(2);
    };
    let token = t.token.as_bytes();
    match which.as_str() {
        "latchkey" => {
            let v = common::latchkey();
            let mut scratch = [0u8; common::SCRATCH_LEN];
            assert!(latchkey_once(&v, token, &mut scratch).is_ok());
            measure_latchkey(&v, token, n);
        }
        "jsonwebtoken" => {
            let (key, validation) = common::jsonwebtoken();
            assert!(jsonwebtoken_once(&key, &validation, token));
            measure_jsonwebtoken(&key, &validation, token, n);
        }
        "print" => {
            println!("{}", t.token);
            return ExitCode::SUCCESS;
        }
        "floor" => {
            let keyed = common::floor();
            let _ = floor_once(&keyed, t.signing_input());
            measure_floor(&keyed, t.signing_input(), n);
        }
        other => {
            eprintln!("unknown implementation {other:?}: latchkey, jsonwebtoken or floor");
            return ExitCode::from(2);
        }
    }
    println!("{which} {name} {} bytes x {n}", token.len());
    ExitCode::SUCCESS
}

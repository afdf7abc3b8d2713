//! Instructions per RSA verification under `valgrind --tool=callgrind`: latchkey-core's
//! `alg::rsa` against the raw `rsa` crate (0.10), each with its key built once, on the
//! same 285-byte signing input and the same signature from the 2048-bit test key
//! (`tests/data/rsa/rsa2048.pem`).
//!
//! ```text
//! callgrind_rsa <latchkey|rsa> <rs256|ps256> <iterations>
//! ```
//!
//! As in `callgrind.rs`, each `measure_*` function runs one implementation
//! `iterations` times and is never inlined, so `--toggle-collect='*measure_*'` counts
//! exactly those calls; one call runs first, outside the collected function, and must
//! verify. The `rsa` crate's call includes reading the signature bytes into its
//! `Signature`, as a verifier of a token must. `core/benches/callgrind_rsa.sh` runs all
//! four.

use std::hint::black_box;
use std::process::ExitCode;

use latchkey_core::alg::rsa::{RsaHash, RsaVerifyingKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, pkcs1v15, pss};
use sha2::Sha256;

/// A 285-byte JWS signing input, the size issue 15 measured jsonwebtoken on.
fn signing_input() -> Vec<u8> {
    let header = b"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InRlc3Qta2V5LTEifQ.";
    let mut input = header.to_vec();
    input.extend((0..285 - header.len()).map(|i| b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"[i % 32]));
    input
}

#[path = "../tests/support/splitmix.rs"]
mod splitmix;
use splitmix::SplitMix as SaltRng;

#[inline(never)]
fn latchkey_once(key: &RsaVerifyingKey, pss: bool, input: &[u8], sig: &[u8]) -> bool {
    let (input, sig) = (black_box(input), black_box(sig));
    if pss {
        key.verify_pss(RsaHash::Sha256, input, sig).is_ok()
    } else {
        key.verify_pkcs1v15(RsaHash::Sha256, input, sig).is_ok()
    }
}

#[inline(never)]
fn measure_latchkey(key: &RsaVerifyingKey, pss: bool, input: &[u8], sig: &[u8], n: u32) {
    for _ in 0..n {
        black_box(latchkey_once(key, pss, input, sig));
    }
}

/// The `rsa` crate's verifying keys, built once.
struct Peer {
    pkcs1: pkcs1v15::VerifyingKey<Sha256>,
    pss: pss::VerifyingKey<Sha256>,
}

#[inline(never)]
fn rsa_once(peer: &Peer, pss: bool, input: &[u8], sig: &[u8]) -> bool {
    let (input, sig) = (black_box(input), black_box(sig));
    if pss {
        pss::Signature::try_from(sig).is_ok_and(|s| peer.pss.verify(input, &s).is_ok())
    } else {
        pkcs1v15::Signature::try_from(sig).is_ok_and(|s| peer.pkcs1.verify(input, &s).is_ok())
    }
}

#[inline(never)]
fn measure_rsa(peer: &Peer, pss: bool, input: &[u8], sig: &[u8], n: u32) {
    for _ in 0..n {
        black_box(rsa_once(peer, pss, input, sig));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(which), Some(alg), Some(n)) = (
        args.first(),
        args.get(1),
        args.get(2).and_then(|n| n.parse::<u32>().ok()),
    ) else {
        eprintln!("usage: callgrind_rsa <latchkey|rsa> <rs256|ps256> <iterations>");
        return ExitCode::from(2);
    };
    let private = PrivateKey::from_pkcs8_pem(include_str!("../tests/data/rsa/rsa2048.pem"))
        .expect("test key");
    let public = private.to_public_key();
    let input = signing_input();
    let pss = match alg.as_str() {
        "rs256" => false,
        "ps256" => true,
        other => {
            eprintln!("unknown algorithm {other:?}: rs256 or ps256");
            return ExitCode::from(2);
        }
    };
    let sig = if pss {
        pss::SigningKey::<Sha256>::new(private)
            .sign_with_rng(&mut SaltRng(1), &input)
            .to_vec()
    } else {
        pkcs1v15::SigningKey::<Sha256>::new(private)
            .sign(&input)
            .to_vec()
    };
    match which.as_str() {
        "latchkey" => {
            let n_bytes = public.n_bytes();
            let key = RsaVerifyingKey::new(&n_bytes, &public.e_bytes()).expect("2048-bit key");
            assert!(latchkey_once(&key, pss, &input, &sig));
            measure_latchkey(&key, pss, &input, &sig, n);
        }
        "rsa" => {
            let peer = Peer {
                pkcs1: pkcs1v15::VerifyingKey::new(public.clone()),
                pss: pss::VerifyingKey::new(public),
            };
            assert!(rsa_once(&peer, pss, &input, &sig));
            measure_rsa(&peer, pss, &input, &sig, n);
        }
        other => {
            eprintln!("unknown implementation {other:?}: latchkey or rsa");
            return ExitCode::from(2);
        }
    }
    println!("{which} {alg} {} bytes x {n}", input.len());
    ExitCode::SUCCESS
}

//! Validly signed tokens with fuzzed claims (and a fuzzed command line around
//! them): the claim, scope, lifetime and sequence-number logic behind the MAC. Checks
//! one answer per request and that `OK` only follows a request that names a
//! command the claims' `scope` text contains.
#![no_main]

use latchkey_core::{Algorithm, HeaderParams, Key};
use latchkey_firmware::testing::{FakeLed, FakePin, MemoryStore};
use latchkey_firmware::{Answer, Authorizer, Firmware, provisioning};
use latchkey_protocol::COMMAND_TOKEN_TYPE;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // data = <prefix>\0<claims JSON>, repeated via `\x01` separators for several requests.
    // An HMAC device: the logic past the signature is the same for every key.
    let key = Key::new(Algorithm::Hs256, &[0x5a; 32]).unwrap();
    let auth = Authorizer::hmac(provisioning::DEVICE_ID, key.clone(), 1_800_000_000);
    let mut fw = Firmware::new(
        auth,
        FakePin::default(),
        FakeLed::default(),
        MemoryStore::default(),
    );
    for (n, request) in data.split(|&b| b == 1).take(8).enumerate() {
        let (prefix, claims) = match request.iter().position(|&b| b == 0) {
            Some(i) => (&request[..i], &request[i + 1..]),
            None => (&b"1 open "[..], request),
        };
        let mut out = [0u8; 2048];
        let header = HeaderParams {
            typ: Some(COMMAND_TOKEN_TYPE),
            kid: None,
        };
        let Ok(token) = key.sign(&header, claims, &mut out) else {
            return;
        };
        let mut line = Vec::with_capacity(prefix.len() + token.len() + 1);
        line.extend_from_slice(prefix);
        line.extend_from_slice(token.as_bytes());
        if line.contains(&b'\n') {
            continue;
        }
        let d = fw.handle_line(&line, n as u64);
        if let (Answer::Ok(_), Some(cmd)) = (d.answer, d.command) {
            let text = String::from_utf8_lossy(claims);
            assert!(text.contains(cmd.name()) || text.contains('\\'), "{text}");
        }
    }
});

//! Any bytes as a request line and as a verdict line: never a panic; a refused
//! request's verdict and any accepted verdict write out and read back the same; an
//! accepted request, written out again, reads back the same.
#![no_main]

use latchkey_protocol::{MAX_LINE_LEN, MAX_VERDICT_LEN, parse_request, parse_verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_request(data) {
        Ok(request) => {
            let mut buf = [0u8; MAX_LINE_LEN];
            if let Ok(line) = request.encode(&mut buf) {
                assert_eq!(parse_request(line), Ok(request));
            }
        }
        Err(refusal) => {
            let verdict = refusal.verdict();
            let mut buf = [0u8; MAX_VERDICT_LEN];
            let line = verdict.encode(&mut buf).expect("every refusal writes");
            assert_eq!(parse_verdict(line), Ok(verdict));
        }
    }
    if let Ok(verdict) = parse_verdict(data) {
        let mut buf = [0u8; MAX_VERDICT_LEN];
        let line = verdict.encode(&mut buf).expect("a parsed verdict writes");
        assert_eq!(parse_verdict(line), Ok(verdict));
    }
});

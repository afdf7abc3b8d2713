//! Arbitrary bytes as what a client sent: the server's HTTP/1.1 framing must
//! return, never panic; a framed request lies within the bytes, its body within
//! the limit; and the same bytes cut at the request's end frame the same request
//! (framing depends on nothing after it).
#![no_main]

use latchkey_server::wire::{self, Frame};
use libfuzzer_sys::fuzz_target;

const MAX_BODY: usize = 1024;

fuzz_target!(|data: &[u8]| {
    if let Ok(Frame::Complete { request, len }) = wire::next(data, MAX_BODY) {
        assert!(len > 0 && len <= data.len());
        assert!(request.body.len() <= MAX_BODY);
        match wire::next(&data[..len], MAX_BODY) {
            Ok(Frame::Complete { request: again, len: again_len }) => {
                assert_eq!((again, again_len), (request, len));
            }
            other => panic!("cut at its end, the request frames as {other:?}"),
        }
    }
});

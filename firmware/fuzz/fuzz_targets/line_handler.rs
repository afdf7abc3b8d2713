//! Any bytes on the UART: never a panic, exactly one well-formed answer per `\n`,
//! and never `OK` (nothing here can carry a valid signature).
#![no_main]

use latchkey_core::{Algorithm, Key};
use latchkey_firmware::testing::{FakeLed, FakePin, MemoryStore};
use latchkey_firmware::{Answer, Authorizer, Firmware, provisioning};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // An HMAC device: the logic past the signature is the same for every key.
    let key = Key::new(Algorithm::Hs256, &[0x5a; 32]).unwrap();
    let auth = Authorizer::hmac(provisioning::DEVICE_ID, key, 1_800_000_000);
    let mut fw = Firmware::new(
        auth,
        FakePin::default(),
        FakeLed::default(),
        MemoryStore::default(),
    );
    let mut answers = 0usize;
    for (i, &b) in data.iter().enumerate() {
        if let Some(d) = fw.push_byte(b, i as u64 / 64) {
            answers += 1;
            assert!(!matches!(d.answer, Answer::Ok(_)));
        }
    }
    assert_eq!(answers, data.iter().filter(|&&b| b == b'\n').count());
});

//! The real firmware under QEMU, driven over its UART: refusals that need no server.

use std::path::PathBuf;

use latchkey_harness::golden::Transcript;
use latchkey_harness::{Error, Qemu};

/// Every answer is exactly one line starting with OK, DENIED or ERROR.
fn well_formed(answer: &str) -> bool {
    let mut words = answer.split(' ');
    matches!(words.next(), Some("OK" | "DENIED" | "ERROR"))
        && words.next().is_some_and(|w| !w.is_empty())
        && !answer.contains('\n')
}

#[test]
#[ignore = "needs qemu-system-arm: run cargo xtask test"]
fn device_refuses_malformed_requests() -> Result<(), Error> {
    let mut device = Qemu::start(&Qemu::firmware_elf()?)?;
    let mut transcript = Transcript::new();
    transcript.note("requests without a valid token, answered by the device alone");
    let header = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImxrLWNtZCtqd3QifQ";
    let long = format!("open {}", "A".repeat(2000));
    // (what the transcript shows, what is sent)
    let requests = [
        ("open not-a-token", "open not-a-token".to_string()),
        ("fly away", "fly away".to_string()),
        ("open", "open".to_string()),
        ("led 300 x.y.z", "led 300 x.y.z".to_string()),
        (
            "status <header>.e30.c2ln",
            format!("status {header}.e30.c2ln"),
        ),
        (
            "open <alg none>",
            "open eyJhbGciOiJub25lIn0.e30.".to_string(),
        ),
        ("open <2000 x A>", long),
    ];
    for (label, request) in &requests {
        let answer = device.request(request)?;
        assert!(well_formed(&answer), "{label:?} -> {answer:?}");
        assert!(
            !answer.starts_with("OK"),
            "{label:?} was obeyed: {answer:?}"
        );
        transcript.uart(label, &answer);
    }
    // Still alive and answering after all that.
    device.check_running()?;
    transcript.check("device-refusals")
}

#[test]
#[ignore = "needs qemu-system-arm: run cargo xtask test"]
fn qemu_is_killed_when_its_handle_drops() -> Result<(), Error> {
    let device = Qemu::start(&Qemu::firmware_elf()?)?;
    let port = device.port();
    let qemus_before = qemu_pids_on(port);
    assert_eq!(qemus_before.len(), 1, "one QEMU serving port {port}");
    drop(device);
    assert!(
        qemu_pids_on(port).is_empty(),
        "QEMU still running after drop"
    );
    Ok(())
}

#[test]
#[ignore = "needs qemu-system-arm: run cargo xtask test"]
fn qemu_is_killed_when_a_test_panics() -> Result<(), Error> {
    let elf = Qemu::firmware_elf()?;
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    // A "test" that fails while it holds a device: unwinding must still stop QEMU.
    let failing = std::thread::spawn(move || -> Result<(), Error> {
        let device = Qemu::start(&elf)?;
        let _ = port_tx.send(device.port());
        panic!("deliberate failure while QEMU runs (expected in this test's output)");
    });
    match failing.join() {
        Err(_panicked) => {}
        Ok(result) => return result.and(Err(Error::Protocol("no panic happened".into()))),
    }
    let port = port_rx
        .recv_timeout(std::time::Duration::from_secs(1))
        .map_err(|e| Error::Protocol(format!("QEMU did not start: {e}")))?;
    assert!(qemu_pids_on(port).is_empty(), "QEMU survived a panic");
    Ok(())
}

/// Pids of live qemu-system-arm processes whose command line names `port`.
fn qemu_pids_on(port: u16) -> Vec<PathBuf> {
    let needle = format!("tcp:127.0.0.1:{port},");
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    let cmdline = std::fs::read(p.join("cmdline")).unwrap_or_default();
                    let status = std::fs::read_to_string(p.join("status")).unwrap_or_default();
                    let zombie = status
                        .lines()
                        .any(|l| l.starts_with("State:") && l.contains('Z'));
                    !zombie
                        && String::from_utf8_lossy(&cmdline).contains("qemu-system-arm")
                        && String::from_utf8_lossy(&cmdline).contains(&needle)
                })
                .collect()
        })
        .unwrap_or_default()
}

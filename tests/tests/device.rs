//! The real firmware under QEMU, driven over its UART: refusals that need no server.

use std::path::PathBuf;

use latchkey_harness::golden::Transcript;
use latchkey_harness::protocol::{CANCEL_LINE, VerdictKind, parse_verdict};
use latchkey_harness::scenario;
use latchkey_harness::{Error, Qemu};

#[test]
#[ignore = "needs qemu-system-arm: run cargo xtask test"]
fn device_refuses_malformed_requests() -> Result<(), Error> {
    let mut device = Qemu::start(&Qemu::firmware_elf()?)?;
    let mut transcript = Transcript::new();
    transcript.note("requests without a valid token, answered by the device alone");
    let header = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImxrLWNtZCtqd3QifQ";
    let long = format!("7 open {}", "A".repeat(2000));
    // (what the transcript shows, what is sent)
    let requests = [
        ("1 open not-a-token", "1 open not-a-token".to_string()),
        ("2 fly away", "2 fly away".to_string()),
        ("3 open", "3 open".to_string()),
        ("4 led 300 x.y.z", "4 led 300 x.y.z".to_string()),
        (
            "5 status <header>.e30.c2ln",
            format!("5 status {header}.e30.c2ln"),
        ),
        (
            "6 open <alg none>",
            "6 open eyJhbGciOiJub25lIn0.e30.".to_string(),
        ),
        ("7 open <2000 x A>", long),
        ("open x.y.z (no id)", "open x.y.z".to_string()),
        ("- open x.y.z", "- open x.y.z".to_string()),
        ("123456789 open x.y.z", "123456789 open x.y.z".to_string()),
    ];
    for (label, request) in &requests {
        let answer = device.request(request)?;
        let verdict = parse_verdict(answer.as_bytes())
            .map_err(|_| Error::Protocol(format!("{label:?} -> {answer:?}: not a verdict")))?;
        assert_ne!(
            verdict.kind,
            VerdictKind::Ok,
            "{label:?} was obeyed: {answer:?}"
        );
        transcript.uart(label, &answer);
    }

    transcript.note("a half-sent line, then the cancel line a bridge sends when it reconnects");
    let uart = device.uart()?;
    uart.send_bytes(b"8 open x.y.z")?;
    uart.send_bytes(CANCEL_LINE)?;
    let answer = uart.read_line()?;
    transcript.uart("8 open x.y.z<CAN>", &answer);
    let answer = device.request("9 status x.y.z")?;
    transcript.uart("9 status x.y.z", &answer);

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

/// Issue 17: the default build holds public keys only: the root and command public
/// keys of its provisioning file, and none of the development secrets. The check
/// fails on the HS256 build, which holds its device key.
#[test]
#[ignore = "needs the firmware builds: run cargo xtask test"]
fn the_default_build_holds_only_public_keys() -> Result<(), Error> {
    let provisioning = scenario::firmware_provisioning()?;
    let held = scenario::public_keys_only(&Qemu::firmware_elf()?, &provisioning)?;
    assert_eq!(held.len(), 2, "{held:?}");
    let hs256 = latchkey_harness::locate(
        "LATCHKEY_HS256_ELF",
        latchkey_harness::target_dir().join("firmware-variants/firmware-hs256.elf"),
        "cargo xtask test (step firmware-hs256)",
    )?;
    let err = scenario::public_keys_only(&hs256, &provisioning)
        .map(|_| ())
        .unwrap_err();
    assert!(err.to_string().contains("dev-1's HS256 key"), "{err}");
    Ok(())
}

/// Every firmware build boots on its declared part and answers (the RS256 build once
/// ran out of stack at boot: its ELF linked, and nothing else noticed).
#[test]
#[ignore = "needs qemu-system-arm and the firmware builds: run cargo xtask test"]
fn every_build_boots_and_answers() -> Result<(), Error> {
    let variants = latchkey_harness::target_dir().join("firmware-variants");
    let dir = std::env::var_os("LATCHKEY_FIRMWARE_VARIANTS").map_or(variants, PathBuf::from);
    for build in ["firmware-es256", "firmware-rs256", "firmware-hs256"] {
        let elf = dir.join(format!("{build}.elf"));
        if !elf.is_file() {
            return Err(Error::NotBuilt(format!(
                "{}: cargo xtask test (step {build}) builds it",
                elf.display()
            )));
        }
        let mut device = Qemu::start(&elf)?;
        let answer = device.request("1 open not-a-token")?;
        assert_eq!(answer, "1 DENIED malformed", "{build}");
        device.check_running()?;
    }
    Ok(())
}

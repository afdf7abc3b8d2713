//! The server's device bridge against the real firmware under QEMU: a half-sent line
//! left by a client that broke off is cancelled, the device's verdict for it is dropped
//! by id, the server's requests are answered; once the device is gone, the 503 says the
//! command did not run.

use std::time::Duration;

use latchkey_harness::golden::Transcript;
use latchkey_harness::scenario::{self, DEVICE, PASSWORD, USER};
use latchkey_harness::{Error, Qemu, Server, temp_dir};

#[test]
#[ignore = "needs qemu-system-arm and the latchkey-server binary: run cargo xtask test"]
fn the_bridge_cancels_a_half_sent_line_and_matches_its_verdicts() -> Result<(), Error> {
    let mut transcript = Transcript::new();
    let mut device = Qemu::start(&Qemu::firmware_elf()?)?;
    transcript.note("a client breaks off mid-line: its bytes wait in the device's line buffer");
    device.uart()?.send_bytes(b"5 open x.y")?;
    transcript.line_sent("5 open x.y");
    device.release_uart();

    let dir = temp_dir("bridge")?;
    let builder = scenario::server(&Server::binary()?, &dir.path().join("latchkey.db"))
        .arg("--device")
        .arg(format!("{DEVICE}=tcp://127.0.0.1:{}", device.port()))
        .arg("--log")
        .arg("debug");
    scenario::provision(&builder)?;
    let server = builder.clone().start()?;
    let mut http = server.client();
    http.set_timeout(Duration::from_secs(60));
    let (_, access) = scenario::login(&mut http, USER, PASSWORD)?;
    let access = access.ok_or_else(|| Error::Protocol("no access token".into()))?;

    transcript.note(
        "the bridge connects: its cancel line ends the half line (the device answers \
         `5 ERROR cancelled`, which answers nothing the bridge asked), then its request",
    );
    for command in ["open", "status"] {
        let (response, _) = scenario::command_token(&mut http, &access, DEVICE, command, None)?;
        let verdict = response.json()?["device_verdict"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        transcript.http(
            "POST",
            &format!("/devices/{DEVICE}/commands {command}"),
            response.status,
            &verdict,
        );
        assert_eq!(
            response.status,
            200,
            "{}\n{}",
            response.text(),
            server.logs()
        );
    }

    transcript.note(
        "a trust statement, signed offline by the root, delivered through the bridge \
         by a user granted `trust`",
    );
    builder.admin(&["user", "grant", USER, DEVICE, "trust"], "")?;
    let statement = builder.admin(&["device", "trust", DEVICE, "--retire", "none-such"], "")?;
    let response = http.post_json(
        &format!("/devices/{DEVICE}/trust"),
        &serde_json::json!({ "statement": statement.trim() }),
        Some(&access),
    )?;
    let body = response.json()?;
    let verdict = body["device_verdict"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    transcript.http(
        "POST",
        &format!("/devices/{DEVICE}/trust"),
        response.status,
        &verdict,
    );
    assert_eq!(response.status, 200, "{body}");
    assert_eq!(verdict, "OK epoch=1 keys=1");

    // The device's answer to the cancelled half line came first, and was dropped.
    let logs = server.logs();
    assert!(
        logs.contains("stale or unsolicited verdict dropped") && logs.contains("5 ERROR cancelled"),
        "{logs}"
    );

    transcript.note("the device is gone: the request was not delivered, so it did not run");
    drop(device);
    let (response, _) = scenario::command_token(&mut http, &access, DEVICE, "close", None)?;
    let body = response.json()?;
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("did not run"), "{message}");
    transcript.http(
        "POST",
        &format!("/devices/{DEVICE}/commands close"),
        response.status,
        body["error"].as_str().unwrap_or_default(),
    );
    transcript.check("bridge")
}

//! Issue 17 on the real firmware under QEMU, with its flash file: the device holds
//! public keys only, takes root-signed trust statements that rotate its command keys,
//! and keeps its keys, its clock and its used sequence numbers across reboots and
//! power cuts.

use std::fs;
use std::path::{Path, PathBuf};

use latchkey_harness::golden::Transcript;
use latchkey_harness::protocol::Command;
use latchkey_harness::scenario::{self, DEVICE};
use latchkey_harness::{Error, Qemu, Server, ServerBuilder, temp_dir};

/// The development server (`--dev-keys`): its command key `dev-cmd-1` is the one the
/// default firmware build trusts.
fn dev_server(dir: &Path) -> Result<ServerBuilder, Error> {
    let db = subdir(dir, "dev")?.join("latchkey.db");
    let builder = scenario::server(&Server::binary()?, &db);
    scenario::provision(&builder)?;
    Ok(builder)
}

fn subdir(dir: &Path, name: &str) -> Result<PathBuf, Error> {
    let path = dir.join(name);
    fs::create_dir_all(&path).map_err(Error::io(format!("creating {}", path.display())))?;
    Ok(path)
}

/// The arguments of `latchkey-server token issue` for a command token of `user`'s
/// for `command` on [`DEVICE`].
fn issue_args<'a>(user: &'a str, command: &'a str) -> Vec<&'a str> {
    vec![
        "token",
        "issue",
        "--kind",
        "command",
        "--user",
        user,
        "--device",
        DEVICE,
        "--command",
        command,
    ]
}

/// A command token for [`scenario::USER`] on [`DEVICE`], with extra arguments.
fn token(server: &ServerBuilder, command: &str, extra: &[&str]) -> Result<String, Error> {
    let mut args = issue_args(scenario::USER, command);
    args.extend_from_slice(extra);
    Ok(server.admin(&args, "")?.trim().to_owned())
}

fn send(device: &mut Qemu, command: Command, token: &str) -> Result<String, Error> {
    Ok(device.command(command, token)?.answer().to_owned())
}

#[test]
#[ignore = "needs qemu-system-arm and the latchkey-server binary: run cargo xtask test"]
fn rotation_by_trust_then_the_old_key_retired_across_a_reboot() -> Result<(), Error> {
    let dir = temp_dir("trust")?;
    let elf = Qemu::firmware_elf()?;
    let state = subdir(dir.path(), "device")?;
    let mut device = Qemu::start_with_state(&elf, &state)?;
    let mut transcript = Transcript::new();
    let old = dev_server(dir.path())?;

    // A server with keys of its own (a new command key, `c-...`), holding the
    // development root's key file: the root the firmware build trusts.
    let new_db = subdir(dir.path(), "new")?.join("latchkey.db");
    let new = ServerBuilder::new(&Server::binary()?, &new_db).env_remove("LATCHKEY_DEV_KEYS");
    scenario::provision(&new)?;
    new.admin(&["keys", "root-init", "--development"], "")?;
    let listing = new.admin(&["keys", "list"], "")?;
    let kid = listing
        .lines()
        .find(|l| l.contains("\tcommand\tEdDSA"))
        .and_then(|l| l.split('\t').next())
        .ok_or_else(|| Error::Protocol(format!("no EdDSA command key in {listing}")))?
        .to_owned();

    let step = |transcript: &mut Transcript,
                device: &mut Qemu,
                what: &str,
                command: Command,
                token: &str,
                want: &str|
     -> Result<(), Error> {
        let answer = send(device, command, token)?;
        transcript.uart(what, &answer);
        assert_eq!(answer, want, "{what}");
        Ok(())
    };

    transcript.note("the device trusts dev-cmd-1 (its build) and nothing else");
    let t = token(&old, "open", &[])?;
    step(
        &mut transcript,
        &mut device,
        "open <dev-cmd-1>",
        Command::Open,
        &t,
        "OK opened",
    )?;
    let t = token(&new, "open", &[])?;
    step(
        &mut transcript,
        &mut device,
        "open <the new key>",
        Command::Open,
        &t,
        "DENIED unknown-key",
    )?;

    transcript.note("the root adds the new key (epoch 1), then retires dev-cmd-1 (epoch 2)");
    let add = new.admin(&["device", "trust", DEVICE, "--add", &kid], "")?;
    let add = add.trim();
    step(
        &mut transcript,
        &mut device,
        "trust <add the new key>",
        Command::Trust,
        add,
        "OK epoch=1 keys=2",
    )?;
    let t = token(&new, "open", &[])?;
    step(
        &mut transcript,
        &mut device,
        "open <the new key>",
        Command::Open,
        &t,
        "OK opened",
    )?;
    let retire = new.admin(&["device", "trust", DEVICE, "--retire", "dev-cmd-1"], "")?;
    let retire = retire.trim();
    step(
        &mut transcript,
        &mut device,
        "trust <retire dev-cmd-1>",
        Command::Trust,
        retire,
        "OK epoch=2 keys=1",
    )?;
    let t = token(&old, "open", &[])?;
    step(
        &mut transcript,
        &mut device,
        "open <dev-cmd-1>",
        Command::Open,
        &t,
        "DENIED unknown-key",
    )?;

    transcript.note("a replayed statement changes nothing; retiring the last key is refused");
    step(
        &mut transcript,
        &mut device,
        "trust <add the new key> again",
        Command::Trust,
        add,
        "DENIED stale-epoch",
    )?;
    let last = new.admin(&["device", "trust", DEVICE, "--retire", &kid], "")?;
    step(
        &mut transcript,
        &mut device,
        "trust <retire the new key>",
        Command::Trust,
        last.trim(),
        "DENIED last-key",
    )?;

    transcript.note("a reboot: the keys and the epoch stay");
    drop(device);
    let mut device = Qemu::start_with_state(&elf, &state)?;
    let t = token(&new, "close", &[])?;
    step(
        &mut transcript,
        &mut device,
        "close <the new key>",
        Command::Close,
        &t,
        "OK closed",
    )?;
    let t = token(&old, "close", &[])?;
    step(
        &mut transcript,
        &mut device,
        "close <dev-cmd-1>",
        Command::Close,
        &t,
        "DENIED unknown-key",
    )?;
    step(
        &mut transcript,
        &mut device,
        "trust <retire dev-cmd-1> again",
        Command::Trust,
        retire,
        "DENIED stale-epoch",
    )?;
    device.check_running()?;
    transcript.check("trust")
}

#[test]
#[ignore = "needs qemu-system-arm and the latchkey-server binary: run cargo xtask test"]
fn a_token_obeyed_before_a_reboot_is_refused_after_it() -> Result<(), Error> {
    let dir = temp_dir("reboot")?;
    let elf = Qemu::firmware_elf()?;
    let state = subdir(dir.path(), "device")?;
    let server = dev_server(dir.path())?;
    let open = token(&server, "open", &["--ttl", "2"])?;
    let mut device = Qemu::start_with_state(&elf, &state)?;
    assert_eq!(send(&mut device, Command::Open, &open)?, "OK opened");
    drop(device);

    let mut device = Qemu::start_with_state(&elf, &state)?;
    assert_eq!(send(&mut device, Command::Open, &open)?, "DENIED replayed");
    // Past its expiry (2 s lifetime, 5 s leeway): the clock came back from flash
    // (it used to restart at the build's floor, which made the token current again).
    drop(device);
    std::thread::sleep(std::time::Duration::from_secs(8));
    let mut device = Qemu::start_with_state(&elf, &state)?;
    let answer = send(&mut device, Command::Open, &open)?;
    assert!(
        answer == "DENIED expired" || answer == "DENIED replayed",
        "{answer}"
    );
    // A fresh device (no flash file) would obey it again: what the flash prevents.
    let fresh = subdir(dir.path(), "fresh")?;
    let open2 = token(&server, "open", &[])?;
    let mut other = Qemu::start_with_state(&elf, &fresh)?;
    assert_eq!(send(&mut other, Command::Open, &open2)?, "OK opened");
    Ok(())
}

#[test]
#[ignore = "needs qemu-system-arm and the latchkey-server binary: run cargo xtask test"]
fn a_future_dated_token_refused_does_not_move_the_clock() -> Result<(), Error> {
    let dir = temp_dir("future")?;
    let server = dev_server(dir.path())?;
    let mut device = Qemu::start(&Qemu::firmware_elf()?)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let ahead = (now + 3600).to_string();
    // Authentic, an hour ahead, but for `open`: sent as `close` it is refused.
    let future = token(&server, "open", &["--issued-at", &ahead])?;
    assert_eq!(
        send(&mut device, Command::Close, &future)?,
        "DENIED missing-scope"
    );
    // The clock did not move: a current token is still current.
    let current = token(&server, "close", &[])?;
    assert_eq!(send(&mut device, Command::Close, &current)?, "OK closed");
    Ok(())
}

#[test]
#[ignore = "needs qemu-system-arm and the latchkey-server binary: run cargo xtask test"]
fn one_users_burst_does_not_block_another_users_open() -> Result<(), Error> {
    let dir = temp_dir("burst")?;
    let server = dev_server(dir.path())?;
    server.admin(&["user", "add", "bob"], "bob's password 123\n")?;
    server.admin(&["user", "grant", "bob", DEVICE, "status"], "")?;
    let mut device = Qemu::start(&Qemu::firmware_elf()?)?;
    // Alice's token first: the lowest sequence number of what follows.
    let open = token(&server, "open", &[])?;
    let limit = latchkey_harness::protocol::MAX_TOKENS_PER_USER;
    let mut obeyed = 0;
    for _ in 0..limit {
        let status = server.admin(&issue_args("bob", "status"), "")?;
        let answer = send(&mut device, Command::Status, status.trim())?;
        assert!(answer.starts_with("OK door="), "{answer}");
        obeyed += 1;
    }
    // The server issues bob no more for now...
    let more = server.admin_output(&issue_args("bob", "status"), "")?;
    assert!(!more.status.success(), "a 17th token was issued");
    // ...and alice's token, older than all of bob's, still opens the door.
    assert_eq!(obeyed, limit);
    assert_eq!(send(&mut device, Command::Open, &open)?, "OK opened");
    Ok(())
}

/// The power-cut build: its flash loses power after the steps the file
/// `latchkey-power-cut` names (`cargo xtask test` builds it).
fn power_cut_elf() -> Result<PathBuf, Error> {
    latchkey_harness::locate(
        "LATCHKEY_POWER_CUT_ELF",
        latchkey_harness::target_dir().join("firmware-variants/firmware-power-cut.elf"),
        "cargo xtask test (step firmware-power-cut)",
    )
}

/// A power cut in the middle of saving the counters: the command does not run, and
/// after power comes back the device accepts no more than before (the token is either
/// still unused, or used up), and goes on working.
#[test]
#[ignore = "needs qemu-system-arm, the power-cut build and the latchkey-server binary: run cargo xtask test"]
fn a_power_cut_during_a_state_write_leaves_the_old_or_the_new_state() -> Result<(), Error> {
    let dir = temp_dir("power")?;
    let server = dev_server(dir.path())?;
    let elf = Qemu::firmware_elf()?;
    let cut_elf = power_cut_elf()?;
    // One counters record is 10 words; cut before the first, in the middle, before
    // the last (the commit word), and never.
    for steps in [0usize, 4, 9, 1000] {
        let state = subdir(dir.path(), &format!("cut-{steps}"))?;
        let write = |path: PathBuf, text: String| {
            fs::write(&path, text).map_err(Error::io(format!("writing {}", path.display())))
        };
        write(state.join("latchkey-power-cut"), steps.to_string())?;
        // One command saved whole first, so there is an old state to fall back to.
        let first = token(&server, "close", &[])?;
        let mut device = Qemu::start_with_state(&elf, &state)?;
        assert_eq!(send(&mut device, Command::Close, &first)?, "OK closed");
        drop(device);

        let open = token(&server, "open", &[])?;
        let mut device = Qemu::start_with_state(&cut_elf, &state)?;
        let answer = device
            .command(Command::Open, &open)
            .map(|e| e.answer().to_owned());
        if steps < 10 {
            // The power went mid-save: no answer, and QEMU stopped with code 106.
            assert!(answer.is_err(), "cut after {steps}: answered {answer:?}");
            let exited = device.wait_for_exit(std::time::Duration::from_secs(10))?;
            assert!(exited.contains("106"), "cut after {steps}: {exited}");
        } else {
            assert_eq!(answer?, "OK opened");
        }
        drop(device);

        let mut device = Qemu::start_with_state(&elf, &state)?;
        let again = send(&mut device, Command::Open, &open)?;
        let want: &[&str] = if steps < 10 {
            // The old state (the token unused: it never ran) or the new one.
            &["OK opened", "DENIED replayed"]
        } else {
            &["DENIED replayed"]
        };
        assert!(want.contains(&again.as_str()), "cut after {steps}: {again}");
        assert_eq!(
            send(&mut device, Command::Close, &first)?,
            "DENIED replayed"
        );
        let next = token(&server, "status", &[])?;
        let status = send(&mut device, Command::Status, &next)?;
        assert!(
            status.starts_with("OK door="),
            "cut after {steps}: {status}"
        );
    }
    Ok(())
}

/// The opt-in HS256 build still works with the server: a device set to HS256 gets
/// HMAC command tokens under its derived key, and the device obeys each once.
#[test]
#[ignore = "needs qemu-system-arm, the HS256 build and the latchkey-server binary: run cargo xtask test"]
fn an_hmac_device_works_with_the_server() -> Result<(), Error> {
    let dir = temp_dir("hmac")?;
    let server = dev_server(dir.path())?;
    server.admin(&["device", "set-alg", DEVICE, "HS256"], "")?;
    let elf = latchkey_harness::locate(
        "LATCHKEY_HS256_ELF",
        latchkey_harness::target_dir().join("firmware-variants/firmware-hs256.elf"),
        "cargo xtask test (step firmware-hs256)",
    )?;
    let mut device = Qemu::start(&elf)?;
    let open = token(&server, "open", &[])?;
    assert!(open.starts_with("eyJhbGciOiJIUzI1NiIs"), "{open}");
    assert_eq!(send(&mut device, Command::Open, &open)?, "OK opened");
    assert_eq!(send(&mut device, Command::Open, &open)?, "DENIED replayed");
    // An EdDSA token means nothing to it.
    server.admin(&["device", "set-alg", DEVICE, "EdDSA"], "")?;
    let eddsa = token(&server, "close", &[])?;
    assert_eq!(
        send(&mut device, Command::Close, &eddsa)?,
        "DENIED unknown-key"
    );
    Ok(())
}

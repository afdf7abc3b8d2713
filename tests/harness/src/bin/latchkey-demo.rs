//! The demo driver behind `cargo xtask demo`: starts the login server and the device
//! under QEMU, walks through the story with real HTTP and UART traffic, then leaves both
//! running (or exits with `--once`).
//!
//! Usage: `latchkey-demo --firmware ELF --server BIN --state-dir DIR [--once]`
//! (`cargo xtask demo` builds both and passes these).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use latchkey_harness::scenario::{self, DEVICE, GRANTED, PASSWORD, Story, USER};
use latchkey_harness::{Error, Qemu};

const USAGE: &str = "usage: latchkey-demo --firmware ELF --server BIN --state-dir DIR [--once]  (see cargo xtask demo --help)";

struct Options {
    firmware: PathBuf,
    server: PathBuf,
    state_dir: PathBuf,
    once: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let (mut firmware, mut server, mut state_dir, mut once) = (None, None, None, false);
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = || {
            iter.next()
                .map(PathBuf::from)
                .ok_or(format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--firmware" => firmware = Some(value()?),
            "--server" => server = Some(value()?),
            "--state-dir" => state_dir = Some(value()?),
            "--once" => once = true,
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    Ok(Options {
        firmware: firmware.ok_or("--firmware is required")?,
        server: server.ok_or("--server is required")?,
        state_dir: state_dir.ok_or("--state-dir is required")?,
        once,
    })
}

fn run(options: &Options) -> Result<bool, Error> {
    std::fs::create_dir_all(&options.state_dir).map_err(|source| Error::Io {
        what: format!("creating {}", options.state_dir.display()),
        source,
    })?;
    let db = options.state_dir.join("latchkey.db");
    // A fresh database each time, so the story starts from a known state.
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }

    println!(
        "\ndemo: creating user {USER} with grants {GRANTED:?} on {DEVICE} in {}",
        db.display()
    );
    let prepared = scenario::prepare(&options.server, &db, &options.firmware)?;
    println!("demo: starting the login server (DEVELOPMENT ONLY keys)");
    let server = prepared.builder.clone().start()?;
    println!("      listening on {}", server.url(""));
    println!("demo: starting the device: the firmware under QEMU (mps2-an385)");
    let mut device = Qemu::start(&options.firmware)?;
    println!("      UART on 127.0.0.1:{}", device.port());

    let mut story = Story::new(true);
    let server = scenario::tell(&prepared, server, &mut device, &mut story)?;
    let failures = story.failures();
    println!(
        "\ndemo: {} steps, {} unexpected answer(s){}",
        story.steps(),
        failures.len(),
        if failures.is_empty() { "" } else { ":" }
    );
    for failure in failures {
        println!("    {failure}");
    }
    let ok = failures.is_empty();
    if options.once {
        return Ok(ok);
    }

    // QEMU serves one UART client at a time: hand it over to the person.
    device.release_uart();
    let url = server.url("");
    let port = device.port();
    println!(
        r#"
Both keep running (Ctrl-C stops both). Try it yourself:

  # log in (user {USER}, password "{PASSWORD}")
  TOKEN=$(curl -s -X POST {url}/login -H 'content-type: application/json' \
      -d '{{"username":"{USER}","password":"{PASSWORD}"}}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  # a command token for the device
  CMD=$(curl -s -X POST {url}/devices/{DEVICE}/commands -H "authorization: Bearer $TOKEN" \
      -H 'content-type: application/json' -d '{{"command":"open"}}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
  # hand it to the device over its UART (bash; QEMU takes one client at a time)
  exec 3<>/dev/tcp/127.0.0.1/{port}
  echo "1 open $CMD" >&3; read -r answer <&3; echo "$answer"  # 1 OK opened
  echo "2 open $CMD" >&3; read -r answer <&3; echo "$answer"  # 2 DENIED replayed
  exec 3<&-"#
    );
    let mut server = server;
    // Ctrl-C reaches the whole foreground process group: both children stop with us.
    loop {
        std::thread::sleep(Duration::from_millis(500));
        server.check_running()?;
        device.check_running()?;
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("latchkey-demo: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("latchkey-demo: the story did not go as expected (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("latchkey-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

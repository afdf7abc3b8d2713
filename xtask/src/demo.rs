//! `cargo xtask demo` and `cargo xtask bench-server`: build what they need, then hand over
//! to the `latchkey-demo` and `latchkey-bench` programs of the `latchkey-e2e` crate.
//!
//! Why there: the story needs HTTP, JSON and the QEMU/server process guards, which the
//! end-to-end harness already has and tests. xtask stays dependency-free and builds even
//! when the rest of the workspace does not.

use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::cmd::{self, ChildGuard, cargo};
use crate::firmware::{self, FIRMWARE_PROFILE};
use crate::{Args, Error, Project, setup};

const DEMO_HELP: &str = "\
cargo xtask demo: see the whole system work

USAGE: cargo xtask demo [--once]

Sets up what is missing (see `cargo xtask setup --help`), builds the firmware
and the login server, starts the device under QEMU (UART on a loopback TCP
port) and the server (SQLite file under target/demo/), then walks through the
story with real HTTP and UART traffic: login, a granted command obeyed, a
command outside the grants refused by the server, a replayed token refused by
the device, an expired and a tampered token refused, logout and the revoked
token refused. Then it leaves both running and prints how to talk to them
with curl and bash; Ctrl-C stops both.

OPTIONS:
  --once   exit after the story (0 when every step behaved as expected)
";

const BENCH_HELP: &str = "\
cargo xtask bench-server: load benchmark of the login server on loopback

USAGE: cargo xtask bench-server [--duration SECS] [--connections N] [--max-requests N]
                                [--flask HOST:PORT]

Builds the server in release mode, starts it on a free loopback port with a
fresh SQLite file and the demo user, and drives it with a bounded closed-loop
load from keep-alive HTTP/1.1 connections, one scenario after the other:
GET /healthz, GET /me (access token check), POST /devices/dev-1/commands
(command token issue), POST /login (password hash). Prints requests/s and
latency percentiles per scenario; exits non-zero on errors or non-2xx answers.

OPTIONS:
  --with-flask        also start the Flask reference peer (../shared/reference,
                      gunicorn -w 2 -k gthread --threads 4, in a venv under
                      .venv-flask-ref/ made with pip on first use) and measure it
                      in the same run: GET /protected and POST /login
  --duration SECS     length of each scenario (default 10, at most 60)
  --connections N     concurrent connections (default 8, at most 64)
  --max-requests N    stop a scenario after N requests (default 200000)
  --flask HOST:PORT   measure a Flask reference peer already running there
";

/// `cargo xtask demo`.
///
/// # Errors
/// When setup or a build fails, or the story did not go as expected.
pub fn demo_main(project: &Project, args: &[String]) -> Result<(), Error> {
    let Some(args) = Args::parse(args, &["--once"], &[], DEMO_HELP)? else {
        return Ok(());
    };
    let ready = setup::run();
    if !(ready.target && ready.qemu) {
        return Err(Error::Failed(
            "setup is incomplete: the demo needs the thumbv7m target and QEMU".into(),
        ));
    }
    println!("\ndemo: building the firmware");
    let elf = firmware::build(project, FIRMWARE_PROFILE)?;
    println!("\ndemo: building the server and the demo driver");
    build_bins(project, false)?;
    let state = project.target_dir.join("demo");
    let mut demo = Command::new(project.host_bin("debug", "latchkey-demo"));
    demo.arg("--firmware")
        .arg(&elf)
        .arg("--server")
        .arg(project.host_bin("debug", "latchkey-server"))
        .arg("--state-dir")
        .arg(&state);
    if args.has("--once") {
        demo.arg("--once");
    }
    run_driver(&mut demo, "the demo")
}

/// `cargo xtask bench-server`.
///
/// # Errors
/// When the build or the benchmark fails.
pub fn bench_main(project: &Project, args: &[String]) -> Result<(), Error> {
    let numbers = ["--duration", "--connections", "--max-requests"];
    let options = ["--duration", "--connections", "--max-requests", "--flask"];
    let Some(args) = Args::parse(args, &["--with-flask"], &options, BENCH_HELP)? else {
        return Ok(());
    };
    // Checked before the (long) release build, so that a typo fails at once.
    for name in numbers {
        args.number(name, 0u64)?;
    }
    println!("bench-server: building the server and the load driver (release)");
    build_bins(project, true)?;
    let mut bench = Command::new(project.host_bin("release", "latchkey-bench"));
    bench
        .arg("--server")
        .arg(project.host_bin("release", "latchkey-server"));
    for name in options {
        if let Some(value) = args.value(name) {
            bench.arg(name).arg(value);
        }
    }
    // Lives until the driver returns; its guard then stops gunicorn.
    let _flask = if args.has("--with-flask") {
        let (guard, port) = start_flask(project)?;
        bench.arg("--flask").arg(format!("127.0.0.1:{port}"));
        Some(guard)
    } else {
        None
    };
    run_driver(&mut bench, "the benchmark")
}

/// The reference peer's pinned packages (shared/reference/README.md).
const FLASK_PACKAGES: &[&str] = &[
    "flask==3.1.3",
    "flask-jwt-extended==4.7.4",
    "pyjwt==2.15.1",
    "gunicorn==27.0.1",
];

/// Starts the Flask reference peer under gunicorn on a free loopback port, making its
/// venv first when missing; returns its guard (stops it gently) and port.
fn start_flask(project: &Project) -> Result<(ChildGuard, u16), Error> {
    let reference = project
        .root
        .parent()
        .map(|p| p.join("shared/reference"))
        .filter(|dir| dir.join("flask_app.py").is_file())
        .ok_or_else(|| {
            Error::Failed(
                "--with-flask: no ../shared/reference/flask_app.py beside the repository".into(),
            )
        })?;
    let venv = project.root.join(".venv-flask-ref");
    let gunicorn = venv.join("bin/gunicorn");
    if !gunicorn.is_file() {
        println!(
            "bench-server: making the Flask reference venv in {}",
            venv.display()
        );
        cmd::run_ok(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        cmd::run_ok(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet"])
                .args(FLASK_PACKAGES),
        )?;
    }
    let port = cmd::free_port()?;
    let mut guard = ChildGuard::spawn(
        "gunicorn",
        Command::new(&gunicorn)
            .args(["-b", &format!("127.0.0.1:{port}")])
            .args([
                "-w",
                "2",
                "-k",
                "gthread",
                "--threads",
                "4",
                "--log-level",
                "warning",
            ])
            .arg("flask_app:app")
            .current_dir(&reference),
    )?
    .stop_gently();
    let start = Instant::now();
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        guard.check_running()?;
        if start.elapsed() > Duration::from_secs(30) {
            return Err(Error::Failed("gunicorn did not listen within 30 s".into()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("bench-server: Flask reference peer on 127.0.0.1:{port}");
    Ok((guard, port))
}

fn build_bins(project: &Project, release: bool) -> Result<(), Error> {
    let mut build = cargo(
        project,
        &[
            "build",
            "-p",
            "latchkey-server",
            "-p",
            "latchkey-e2e",
            "--bins",
        ],
    );
    if release {
        build.arg("--release");
    }
    cmd::run_ok(&mut build)
}

fn run_driver(driver: &mut Command, what: &str) -> Result<(), Error> {
    let program = Path::new(driver.get_program()).to_path_buf();
    if !cmd::run(driver)? {
        return Err(Error::Failed(format!(
            "{what} did not complete ({} failed)",
            program.display()
        )));
    }
    Ok(())
}

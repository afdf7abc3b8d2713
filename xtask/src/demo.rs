//! `cargo xtask demo` and `cargo xtask bench-server`: build what they need, then hand over
//! to the `latchkey-demo` and `latchkey-bench` programs of the `latchkey-harness` crate.
//!
//! Why there: the story needs HTTP, JSON and the QEMU/server/Flask process guards, which
//! the harness has and tests. xtask only installs what is missing (wrk, the Flask peer's
//! venv), builds, and runs them, so it stays light and builds even when the rest of the
//! workspace does not.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::{self, cargo};
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
cargo xtask bench-server: load benchmark of the login server on loopback, with wrk

USAGE: cargo xtask bench-server [--duration SECS] [--rounds N]
                                 [--http-threads N] [--no-flask | --with-flask]
                                 [--postgres]

Installs wrk, and h2load (nghttp2-client) when it can, when missing (apt-get,
when root), builds the server and the axum + jsonwebtoken peer
(latchkey-peer-axum) in release mode, starts the server on a free loopback
port with a fresh SQLite file under target/bench-server/ and the demo user,
the axum peer, and the Flask-JWT-Extended reference peer (tests/harness/peer,
gunicorn -w 2 -k gthread --threads 4, in a venv under target/flask-peer-venv/
made with pip on first use), and loads them with `wrk -t1 -c8 -d<SECS>s
--latency`, one server after the other for each scenario: GET /me with a
valid access token (Flask: GET /protected), the same with a forged
signature, POST /login, GET /me while a second wrk floods POST /login, and
(latchkey only) POST /devices/dev-1/commands. With h2load, each round ends
with GET /me by `h2load -c 8 -m 10` over h2c (latchkey, the axum peer) and
over TLS (a second latchkey instance on the same store, with a self-signed
certificate). The whole sequence runs N rounds, so the servers stay
interleaved. Prints each run with its round, the per-round ratios, then
Markdown tables of medians over the rounds (per scenario and server the run
with the median req/s; the median per-round ratios) and the issue's targets
judged on those medians. Every process it starts is stopped at the end,
failures included. Exits non-zero when a run saw socket errors or
unexpected statuses.

OPTIONS:
  --duration SECS   length of each wrk run (default 10, 1 to 60); each h2load
                    run sends 20000 x SECS requests; with both peers the whole
                    benchmark takes about N x 16 runs x (SECS + 2) seconds
  --rounds N        times the whole scenario sequence runs (default 3, 1 to 9)
  --http-threads N  start latchkey-server with --http-threads N (1 to 1024)
                    instead of its default, one HTTP thread per core
  --no-flask        measure latchkey alone
  --with-flask      fail when the Flask peer cannot be started (by default it
                    is skipped, with a message, when python3 or
                    the venv cannot be made)
  --postgres        the server's store is a throwaway PostgreSQL cluster on
                    loopback (Debian's postgresql, see `setup`) instead of the
                    SQLite file
";

/// Longest wrk run `--duration` accepts, in seconds.
const MAX_DURATION: u64 = 60;
/// Most rounds `--rounds` accepts (the driver has the same bound).
const MAX_ROUNDS: u32 = 9;

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
/// When an option is wrong, wrk is missing, a build fails or the benchmark fails.
pub fn bench_main(project: &Project, args: &[String]) -> Result<(), Error> {
    let switches = ["--no-flask", "--with-flask", "--postgres"];
    let valued = ["--duration", "--rounds", "--http-threads"];
    let Some(args) = Args::parse(args, &switches, &valued, BENCH_HELP)? else {
        return Ok(());
    };
    // Checked before the (long) release build, so that a typo fails at once.
    let duration = args.number("--duration", 10u64)?;
    if !(1..=MAX_DURATION).contains(&duration) {
        return Err(Error::Usage(format!(
            "--duration must be 1 to {MAX_DURATION} seconds, not {duration}"
        )));
    }
    let rounds = args.number("--rounds", 3u32)?;
    if !(1..=MAX_ROUNDS).contains(&rounds) {
        return Err(Error::Usage(format!(
            "--rounds must be 1 to {MAX_ROUNDS}, not {rounds}"
        )));
    }
    if args.has("--no-flask") && args.has("--with-flask") {
        return Err(Error::Usage(
            "--no-flask and --with-flask exclude each other".into(),
        ));
    }
    let http_threads = args
        .value("--http-threads")
        .map(|_| args.number("--http-threads", 0u16))
        .transpose()?;
    if http_threads.is_some_and(|n| !(1..=1024).contains(&n)) {
        return Err(Error::Usage("--http-threads must be 1 to 1024".into()));
    }
    let wrk = ensure_program("wrk", "wrk")?;
    let h2load = ensure_program("h2load", "nghttp2-client")
        .inspect_err(|e| println!("bench-server: no HTTP/2 figures: {e}"))
        .ok();
    println!("bench-server: building the server and the benchmark driver (release)");
    build_bins(project, true)?;
    let mut bench = Command::new(project.host_bin("release", "latchkey-bench"));
    bench
        .arg("--server")
        .arg(project.host_bin("release", "latchkey-server"))
        .arg("--wrk")
        .arg(&wrk)
        .arg("--state-dir")
        .arg(project.target_dir.join("bench-server"))
        .arg("--duration")
        .arg(duration.to_string())
        .arg("--rounds")
        .arg(rounds.to_string())
        .arg("--axum-peer")
        .arg(project.host_bin("release", "latchkey-peer-axum"));
    if let Some(h2load) = h2load {
        bench.arg("--h2load").arg(h2load);
    }
    if let Some(n) = http_threads {
        bench.arg("--http-threads").arg(n.to_string());
    }
    if args.has("--postgres") {
        bench.arg("--postgres");
    }
    if !args.has("--no-flask")
        && let Some(venv) = flask_venv(project, args.has("--with-flask"))?
    {
        bench.arg("--flask-venv").arg(venv);
    }
    run_driver(&mut bench, "the benchmark")
}

/// `program`'s path, installing the Debian `package` first when it is missing and we
/// are root.
fn ensure_program(program: &str, package: &str) -> Result<PathBuf, Error> {
    if let Some(path) = cmd::which(program) {
        return Ok(path);
    }
    let root = cmd::output(Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0");
    if !root {
        return Err(Error::Failed(format!(
            "{program} is missing. Install it, then run this again:\n  \
             sudo apt-get update && sudo apt-get install -y --no-install-recommends {package}"
        )));
    }
    println!(
        "bench-server: {program} is missing, installing {package} with apt-get (running as root)"
    );
    for apt_args in [
        &["update"][..],
        &["install", "-y", "--no-install-recommends", package][..],
    ] {
        cmd::run_ok(
            Command::new("apt-get")
                .args(apt_args)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    cmd::which(program).ok_or_else(|| {
        Error::Failed(format!(
            "apt-get installed {package} but {program} is not on PATH"
        ))
    })
}

/// The Flask peer's venv (`target/flask-peer-venv`, with the packages pinned in
/// `tests/harness/peer/requirements.txt`), made with python3 and pip on first use;
/// `None` with a message when python3 is missing, or an error when `required`.
fn flask_venv(project: &Project, required: bool) -> Result<Option<PathBuf>, Error> {
    if cmd::which("python3").is_none() {
        if required {
            return Err(Error::Failed("--with-flask: python3 is not on PATH".into()));
        }
        println!("bench-server: not measuring the Flask peer: python3 is not on PATH");
        return Ok(None);
    }
    let venv = project.target_dir.join("flask-peer-venv");
    let requirements = project.root.join("tests/harness/peer/requirements.txt");
    let stamp = venv.join("requirements.txt");
    let current = std::fs::read(&requirements)
        .map_err(|e| Error::Io(format!("reading {}", requirements.display()), e))?;
    if std::fs::read(&stamp).ok().as_ref() != Some(&current) {
        println!(
            "bench-server: making the Flask peer's venv in {} (pip, once)",
            venv.display()
        );
        let made =
            cmd::run_ok(Command::new("python3").arg("-m").arg("venv").arg(&venv)).and_then(|()| {
                cmd::run_ok(
                    Command::new(venv.join("bin/pip"))
                        .args(["install", "--quiet", "-r"])
                        .arg(&requirements),
                )
            });
        match made {
            Ok(()) => std::fs::write(&stamp, &current)
                .map_err(|e| Error::Io(format!("writing {}", stamp.display()), e))?,
            Err(e) if !required => {
                println!("bench-server: not measuring the Flask peer: {e}");
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Some(venv))
}

fn build_bins(project: &Project, release: bool) -> Result<(), Error> {
    let mut build = cargo(
        project,
        &[
            "build",
            "-p",
            "latchkey-server",
            "-p",
            "latchkey-harness",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(args: &[&str]) -> Result<(), Error> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        bench_main(&Project::from_env(), &args)
    }

    #[test]
    fn bench_options_are_checked_before_anything_runs() {
        for bad in [
            &["--duration", "0"][..],
            &["--duration", "61"],
            &["--duration", "ten"],
            &["--rounds", "0"],
            &["--rounds", "10"],
            &["--rounds", "three"],
            &["--rounds=-1"],
            &["--http-threads", "0"],
            &["--http-threads", "1025"],
            &["--http-threads", "one"],
            &["--no-flask", "--with-flask"],
            &["--flask", "127.0.0.1:8000"],
        ] {
            assert!(
                matches!(bench(bad), Err(Error::Usage(_))),
                "{bad:?} should be a usage error"
            );
        }
        assert!(bench(&["--help"]).is_ok());
    }
}

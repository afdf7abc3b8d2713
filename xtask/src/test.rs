//! `cargo xtask test`: every check CI runs, each timed, then a summary.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::cmd::{self, cargo, seconds};
use crate::firmware::{FIRMWARE_PROFILE, TARGET};
use crate::{Args, Error, Project, setup};

const HELP: &str = "\
cargo xtask test: everything CI checks

USAGE: cargo xtask test [--bless]

Steps (each timed; a failed step does not stop the others, but steps that
need a failed build are skipped):
  setup           the target, rustfmt/clippy, qemu-system-arm, wrk, PostgreSQL
                  (see `setup --help`)
  fmt             cargo fmt --all --check
  clippy          cargo clippy --workspace --all-targets -- -D warnings
  clippy-core     cargo clippy -p latchkey-core --all-targets --all-features -- -D warnings
                  (the feature-gated algorithm families)
  host-tests      LATCHKEY_REQUIRE_POSTGRES=1 cargo test --workspace (the server's
                  PostgreSQL tests fail instead of being skipped when no
                  throwaway cluster can be started; so in e2e and clean-clone)
  core-small     LATCHKEY_CORE_SMALL=1 cargo test -p latchkey-core  (the device's
                  byte-at-a-time code paths, on the host)
  core-hs256      cargo test -p latchkey-core --no-default-features --lib
  core-all        cargo test -p latchkey-core --all-features  (every algorithm
                  family and its Wycheproof suites)
  core-32bit      the RSA, ECDSA and Ed25519 suites and the public-key tokens on
                  i686-unknown-linux-gnu, where crypto-bigint, p256 and
                  curve25519-dalek use the 32-bit words the device uses (target dir
                  target/i686)
  core-no-std     cargo build -p latchkey-core --target thumbv7m-none-eabi
                  --features rsa,es256,es384,eddsa,der,pem,jwk  (every family, no_std)
  firmware        cargo build -p latchkey-firmware --target thumbv7m-none-eabi --profile firmware
  firmware-es256, firmware-rs256, firmware-hs256, firmware-power-cut
                  the other builds, each within the budget of memory.x (target dir
                  target/firmware-variants; ELFs kept there as <step>.elf; the
                  power-cut build is the e2e power-cut test's)
  server          cargo build -p latchkey-server -p latchkey-harness --bins
  e2e             cargo test -p latchkey-e2e -p latchkey-harness -- --include-ignored
                  (QEMU, the server, wrk)
  doc             RUSTDOCFLAGS=\"-D warnings\" cargo doc --workspace --no-deps
  clean-clone     git clone of the committed HEAD into an empty temp directory, then
                  cargo test --workspace there (its own target dir,
                  target/clean-clone): a build or test
                  that reads outside the repository (a sibling directory, say) fails here.
                  Uncommitted changes are not in the clone.

OPTIONS:
  --bless         rewrite the golden transcripts (tests/golden/*.txt) instead of
                  comparing (sets LATCHKEY_BLESS=1)

The last line reads `xtask: N passed, N failed` (`, N skipped` when steps were
skipped); the exit code is non-zero when any step failed.
";

/// Set to `1`, the tests that need a PostgreSQL cluster fail when none can be
/// started, instead of skipping (latchkey-harness `postgres::REQUIRE_ENV`).
const REQUIRE_POSTGRES: &str = "LATCHKEY_REQUIRE_POSTGRES";

/// The firmware's other builds (step name, cargo feature arguments), built into
/// `target/firmware-variants` and kept there as `<step>.elf`.
const FIRMWARE_VARIANTS: [(&str, &str); 4] = [
    ("firmware-es256", "--features es256"),
    ("firmware-rs256", "--features rs256"),
    ("firmware-hs256", "--no-default-features --features hs256"),
    ("firmware-power-cut", "--features power-cut"),
];

/// Every latchkey-core feature but `defmt`: the `core-no-std` step builds them all
/// for the device target.
const CORE_DEVICE_FEATURES: &str = "rsa,es256,es384,eddsa,der,pem,jwk";

/// How a step ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    Passed,
    Failed,
    /// Not run because a step it needs failed; the string names that step.
    Skipped(&'static str),
}

struct StepResult {
    name: &'static str,
    outcome: Outcome,
    time: Duration,
}

/// Collects step results and prints the summary.
#[derive(Default)]
struct Report {
    steps: Vec<StepResult>,
}

impl Report {
    /// Runs `cmd` as step `name` unless `needs` names a step that did not pass.
    fn step(&mut self, name: &'static str, needs: &[&'static str], cmd: &mut Command) -> bool {
        if let Some(missing) = needs.iter().find(|n| !self.passed(n)) {
            println!("\n==> {name}: SKIPPED (needs {missing})");
            self.steps.push(StepResult {
                name,
                outcome: Outcome::Skipped(missing),
                time: Duration::ZERO,
            });
            return false;
        }
        println!("\n==> {name}");
        let start = Instant::now();
        let ok = cmd::run(cmd).unwrap_or_else(|e| {
            println!("{e}");
            false
        });
        self.record(name, ok, start.elapsed())
    }

    fn record(&mut self, name: &'static str, ok: bool, time: Duration) -> bool {
        let outcome = if ok { Outcome::Passed } else { Outcome::Failed };
        println!("<== {name}: {} in {}", label(outcome), seconds(time));
        self.steps.push(StepResult {
            name,
            outcome,
            time,
        });
        ok
    }

    fn passed(&self, name: &str) -> bool {
        self.steps
            .iter()
            .any(|s| s.name == name && s.outcome == Outcome::Passed)
    }

    fn count(&self, want: fn(Outcome) -> bool) -> usize {
        self.steps.iter().filter(|s| want(s.outcome)).count()
    }

    fn failed(&self) -> usize {
        self.count(|o| o == Outcome::Failed)
    }

    /// The summary table and the closing `xtask: N passed, N failed` line.
    fn summary(&self, total: Duration) -> String {
        let mut out = String::from("\nxtask test summary\n");
        out.push_str(&format!("  {:<14} {:<8} {:>8}\n", "step", "result", "time"));
        for s in &self.steps {
            let note = match s.outcome {
                Outcome::Skipped(need) => format!("  (needs {need})"),
                _ => String::new(),
            };
            out.push_str(&format!(
                "  {:<14} {:<8} {:>8}{note}\n",
                s.name,
                label(s.outcome),
                seconds(s.time)
            ));
        }
        out.push_str(&format!(
            "  {:<14} {:<8} {:>8}\n",
            "total",
            "",
            seconds(total)
        ));
        let passed = self.count(|o| o == Outcome::Passed);
        let skipped = self.count(|o| matches!(o, Outcome::Skipped(_)));
        out.push_str(&format!("xtask: {passed} passed, {} failed", self.failed()));
        if skipped > 0 {
            out.push_str(&format!(", {skipped} skipped"));
        }
        out.push('\n');
        out
    }
}

fn label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "ok",
        Outcome::Failed => "FAILED",
        Outcome::Skipped(_) => "skipped",
    }
}

/// `cargo xtask test`.
///
/// # Errors
/// `Error::Failed` when any step failed (after the summary is printed).
pub fn main(project: &Project, args: &[String]) -> Result<(), Error> {
    let Some(args) = Args::parse(args, &["--bless"], &[], HELP)? else {
        return Ok(());
    };
    let bless = args.has("--bless");
    let start = Instant::now();
    let mut report = Report::default();

    println!("==> setup");
    let setup_start = Instant::now();
    let ready = setup::run();
    report.record("setup", ready.all(), setup_start.elapsed());
    // Finer-grained than the setup step: a missing QEMU must not skip the
    // no_std build, and a missing target must not skip fmt.
    let target_ok = ready.target;

    report.step(
        "fmt",
        &[],
        &mut cargo(project, &["fmt", "--all", "--check"]),
    );
    report.step(
        "clippy",
        &[],
        &mut cargo(
            project,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        ),
    );
    report.step(
        "clippy-core",
        &[],
        &mut cargo(
            project,
            &[
                "clippy",
                "-p",
                "latchkey-core",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ],
        ),
    );
    let mut host_tests = cargo(project, &["test", "--workspace"]);
    host_tests.env(REQUIRE_POSTGRES, "1");
    if bless {
        host_tests.env("LATCHKEY_BLESS", "1");
    }
    report.step("host-tests", &[], &mut host_tests);
    // The whole core suite again on the device's code paths (byte-at-a-time
    // scans and digits, no 64-bit words; see core/build.rs).
    report.step(
        "core-small",
        &[],
        cargo(project, &["test", "-p", "latchkey-core"]).env("LATCHKEY_CORE_SMALL", "1"),
    );
    // The HS256-only build that devices get (no `sha512` feature): its own unit tests.
    report.step(
        "core-hs256",
        &[],
        &mut cargo(
            project,
            &[
                "test",
                "-p",
                "latchkey-core",
                "--no-default-features",
                "--lib",
            ],
        ),
    );

    report.step(
        "core-all",
        &[],
        &mut cargo(project, &["test", "-p", "latchkey-core", "--all-features"]),
    );
    let mut core32 = cargo(
        project,
        &[
            "test",
            "-p",
            "latchkey-core",
            "--all-features",
            "--target",
            setup::HOST32_TARGET,
            "--lib",
            "--test",
            "wycheproof_rsa",
            "--test",
            "wycheproof_ecdsa",
            "--test",
            "wycheproof_eddsa",
            "--test",
            "public_keys",
        ],
    );
    core32.env("CARGO_TARGET_DIR", project.target_dir.join("i686"));
    let core32_needs: &[&'static str] = if ready.host32 { &[] } else { &["setup"] };
    report.step("core-32bit", core32_needs, &mut core32);

    let thumb = |name: &'static str, report: &mut Report, cmd: &mut Command| {
        if target_ok {
            report.step(name, &[], cmd)
        } else {
            report.step(name, &["setup"], cmd)
        }
    };
    thumb(
        "core-no-std",
        &mut report,
        &mut cargo(
            project,
            &[
                "build",
                "-p",
                "latchkey-core",
                "--target",
                TARGET,
                "--features",
                CORE_DEVICE_FEATURES,
            ],
        ),
    );
    thumb(
        "firmware",
        &mut report,
        &mut cargo(
            project,
            &[
                "build",
                "-p",
                "latchkey-firmware",
                "--target",
                TARGET,
                "--profile",
                FIRMWARE_PROFILE,
            ],
        ),
    );
    // The other builds of the firmware, each checked to link within the budget
    // (memory.x), in a target dir of their own so that the default build above
    // stays what the e2e tests run; the power-cut build is the e2e's too.
    let variants = project.target_dir.join("firmware-variants");
    for (name, features) in FIRMWARE_VARIANTS {
        let mut build = cargo(
            project,
            &[
                "build",
                "-p",
                "latchkey-firmware",
                "--target",
                TARGET,
                "--profile",
                FIRMWARE_PROFILE,
            ],
        );
        build
            .args(features.split(' '))
            .env("CARGO_TARGET_DIR", &variants);
        // Each build leaves its ELF under the same name: keep a copy by variant.
        let kept = variants.join(format!("{name}.elf"));
        let _ = std::fs::remove_file(&kept);
        if thumb(name, &mut report, &mut build) {
            let elf = variants
                .join(TARGET)
                .join(FIRMWARE_PROFILE)
                .join("latchkey-firmware");
            let _ = std::fs::copy(&elf, &kept);
        }
    }
    report.step(
        "server",
        &[],
        // With the harness's binaries: the axum peer's test starts it.
        &mut cargo(
            project,
            &[
                "build",
                "-p",
                "latchkey-server",
                "-p",
                "latchkey-harness",
                "--bins",
            ],
        ),
    );

    let mut e2e = cargo(
        project,
        &[
            "test",
            "-p",
            "latchkey-e2e",
            "-p",
            "latchkey-harness",
            "--",
            "--include-ignored",
        ],
    );
    e2e.env(REQUIRE_POSTGRES, "1")
        .env(
            "LATCHKEY_FIRMWARE_ELF",
            project.firmware_elf(FIRMWARE_PROFILE),
        )
        .env(
            "LATCHKEY_POWER_CUT_ELF",
            variants.join("firmware-power-cut.elf"),
        )
        .env("LATCHKEY_HS256_ELF", variants.join("firmware-hs256.elf"))
        .env("LATCHKEY_FIRMWARE_VARIANTS", &variants)
        .env(
            "LATCHKEY_SERVER_BIN",
            project.host_bin("debug", "latchkey-server"),
        )
        .env(
            "LATCHKEY_PEER_AXUM_BIN",
            project.host_bin("debug", "latchkey-peer-axum"),
        );
    if bless {
        e2e.env("LATCHKEY_BLESS", "1");
    }
    let e2e_needs: &[&'static str] = if ready.qemu {
        &["firmware", "firmware-power-cut", "firmware-hs256", "server"]
    } else {
        // Name setup as the reason: QEMU is what is missing.
        &[
            "setup",
            "firmware",
            "firmware-power-cut",
            "firmware-hs256",
            "server",
        ]
    };
    report.step("e2e", e2e_needs, &mut e2e);

    let mut doc = cargo(project, &["doc", "--workspace", "--no-deps"]);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    report.step("doc", &[], &mut doc);

    clean_clone(project, &mut report);

    print!("{}", report.summary(start.elapsed()));
    if report.failed() == 0 {
        Ok(())
    } else {
        Err(Error::Failed(format!(
            "{} step(s) failed: {}",
            report.failed(),
            report
                .steps
                .iter()
                .filter(|s| s.outcome == Outcome::Failed)
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

/// The step `clean-clone`: the host tests of a fresh clone that has nothing beside it.
fn clean_clone(project: &Project, report: &mut Report) {
    // A fixed place, so that the clone's own target directory (below) can be reused
    // from one run to the next.
    let parent = std::env::temp_dir().join("latchkey-clean-clone");
    // An empty directory of our own: the clone's `..` holds nothing else.
    let _ = std::fs::remove_dir_all(&parent);
    if let Err(e) = std::fs::create_dir_all(&parent) {
        println!("\n==> clean-clone\ncannot create {}: {e}", parent.display());
        report.record("clean-clone", false, Duration::ZERO);
        return;
    }
    let clone = parent.join("latchkey");
    println!("\n==> clean-clone");
    let started = Instant::now();
    let mut git = Command::new("git");
    git.args(["clone", "--quiet", "--no-hardlinks"])
        .arg(&project.root)
        .arg(&clone);
    let mut test = Command::new(&project.cargo);
    test.args(["test", "--workspace"])
        .env(REQUIRE_POSTGRES, "1")
        .current_dir(&clone)
        // A target directory of the clone's own: artifacts are named without their
        // source path, so in a shared one the clone's and the checkout's builds of a
        // crate would stand in for each other (and `env!("CARGO_MANIFEST_DIR")` in one
        // would point into the other's tree). Kept under ours, so reruns reuse it.
        .env("CARGO_TARGET_DIR", project.target_dir.join("clean-clone"));
    let ok = [&mut git, &mut test].into_iter().all(|cmd| {
        cmd::run(cmd).unwrap_or_else(|e| {
            println!("{e}");
            false
        })
    });
    report.record("clean-clone", ok, started.elapsed());
    let _ = std::fs::remove_dir_all(&parent);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn summary_counts_and_skips_dependents_of_failures() {
        let mut report = Report::default();
        assert!(report.step("build", &[], &mut shell("exit 0")));
        assert!(!report.step("broken", &[], &mut shell("exit 1")));
        assert!(!report.step("uses-broken", &["broken"], &mut shell("exit 0")));
        assert!(report.step("uses-build", &["build"], &mut shell("exit 0")));
        let summary = report.summary(Duration::from_secs(1));
        let last = summary.lines().last().expect("a last line");
        assert_eq!(last, "xtask: 2 passed, 1 failed, 1 skipped");
        assert!(summary.contains("uses-broken"));
        assert!(summary.contains("(needs broken)"));
        assert_eq!(report.failed(), 1);
    }

    #[test]
    fn all_passed_has_no_skipped_part() {
        let mut report = Report::default();
        report.record("a", true, Duration::from_millis(1500));
        let summary = report.summary(Duration::from_secs(2));
        assert!(summary.contains("1.5s"));
        assert_eq!(summary.lines().last(), Some("xtask: 1 passed, 0 failed"));
    }

    #[test]
    fn a_program_that_cannot_start_is_a_failure() {
        let mut report = Report::default();
        let ok = report.step("ghost", &[], &mut Command::new("/nonexistent/latchkey"));
        assert!(!ok);
        assert_eq!(report.failed(), 1);
    }
}

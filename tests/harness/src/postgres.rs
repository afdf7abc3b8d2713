//! A throwaway PostgreSQL cluster on a free loopback port, for tests.
//!
//! The binaries are Debian's (`/usr/lib/postgresql/<version>/bin`, the newest
//! version found; `$LATCHKEY_PG_BIN` names another directory). `initdb` and the
//! server refuse to run as root, so as root they run as the `postgres` user in a
//! directory it owns; otherwise as the current user. The cluster is stopped and
//! its directory removed when the [`Postgres`] guard drops.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{Error, TempDir, free_port, temp_dir};

/// Set to `1` (as `cargo xtask test` does), a test that cannot start a cluster
/// fails instead of being skipped.
pub const REQUIRE_ENV: &str = "LATCHKEY_REQUIRE_POSTGRES";
/// A directory holding `initdb`, `pg_ctl` and `createdb`, instead of the newest
/// `/usr/lib/postgresql/*/bin`.
pub const BIN_ENV: &str = "LATCHKEY_PG_BIN";
/// The database [`Postgres::start`] creates.
pub const DATABASE: &str = "latchkey";

/// A running throwaway cluster; stopped (immediately) and removed on drop.
pub struct Postgres {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    /// The user the server runs as, when it is not the current one.
    run_as: Option<&'static str>,
}

/// The user Debian's package creates, for running the cluster when we are root.
const SYSTEM_USER: &str = "postgres";

impl Postgres {
    /// Starts a cluster with a database [`DATABASE`].
    ///
    /// # Errors
    /// `Error::Unavailable` when no PostgreSQL binaries are installed (or, as
    /// root, there is no `postgres` user); `Error::Exited` when `initdb`,
    /// `pg_ctl` or `createdb` fail (with their output and the server log).
    pub fn start() -> Result<Postgres, Error> {
        let bin = binaries()?;
        let dir = temp_dir("postgres")?;
        let run_as = if is_root() {
            let uid = id(&["-u", SYSTEM_USER])?;
            let gid = id(&["-g", SYSTEM_USER])?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).map_err(Error::io(
                format!("giving {} to {SYSTEM_USER}", dir.path().display()),
            ))?;
            Some(SYSTEM_USER)
        } else {
            None
        };
        let mut pg = Postgres {
            dir,
            bin,
            port: 0,
            run_as,
        };
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                SYSTEM_USER.as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        // A port free a moment ago may be taken by the time the server binds it.
        let mut last = None;
        for _ in 0..3 {
            pg.port = free_port()?;
            match pg.pg_ctl_start() {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
        pg.create_database(DATABASE)?;
        Ok(pg)
    }

    /// [`Postgres::start`] for a test that can do without: `Ok(None)` after
    /// printing why on stderr (past the test harness's capture) when no cluster
    /// can be started, unless [`REQUIRE_ENV`] is `1`.
    ///
    /// # Errors
    /// What [`Postgres::start`] returns, when [`REQUIRE_ENV`] is `1`.
    pub fn for_test(test: &str) -> Result<Option<Postgres>, Error> {
        match Postgres::start() {
            Ok(pg) => Ok(Some(pg)),
            Err(e) if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") => Err(e),
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {test}: no PostgreSQL cluster could be started ({REQUIRE_ENV}=1 \
                     makes this a failure): {e}"
                );
                Ok(None)
            }
        }
    }

    /// The URL of database `name` (`postgres://postgres@127.0.0.1:PORT/NAME`).
    pub fn url_of(&self, name: &str) -> String {
        format!("postgres://{SYSTEM_USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// The URL of [`DATABASE`].
    pub fn url(&self) -> String {
        self.url_of(DATABASE)
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates another (empty) database and returns its URL.
    ///
    /// # Errors
    /// `Error::Exited` when `createdb` fails.
    pub fn create_database(&self, name: &str) -> Result<String, Error> {
        let port = self.port.to_string();
        let out = Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &port, "-U", SYSTEM_USER, name])
            .output()
            .map_err(Error::io("running createdb"))?;
        self.check("createdb", &out)?;
        Ok(self.url_of(name))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn pg_ctl_start(&self) -> Result<(), Error> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c shared_buffers=16MB -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let data = self.data();
        let log = self.dir.path().join("log");
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        )
    }

    /// Runs one of the cluster's programs as the cluster's user.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<(), Error> {
        let path = self.bin.join(program);
        let mut cmd = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        // Its own directory: the cluster's user may not be allowed into ours.
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .map_err(Error::io(format!("running {}", path.display())))?;
        self.check(program, &out)
    }

    fn check(&self, program: &str, out: &Output) -> Result<(), Error> {
        if out.status.success() {
            return Ok(());
        }
        Err(Error::Exited {
            what: program.to_owned(),
            output: format!(
                "{}\n{}{}\n[server log]\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log()
            ),
        })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.port != 0 {
            let data = self.data();
            let _ = self.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-m".as_ref(),
                    "immediate".as_ref(),
                    "-w".as_ref(),
                    "stop".as_ref(),
                ],
            );
        }
    }
}

/// The directory of the PostgreSQL programs: `$LATCHKEY_PG_BIN`, else the
/// newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
///
/// # Errors
/// `Error::Unavailable` when there is none (`cargo xtask setup` installs them).
pub fn binaries() -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os(BIN_ENV) {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() {
            Ok(dir)
        } else {
            Err(Error::Unavailable(format!(
                "{BIN_ENV}={} holds no initdb",
                dir.display()
            )))
        };
    }
    newest_version_bin(Path::new("/usr/lib/postgresql")).ok_or_else(|| {
        Error::Unavailable(
            "no PostgreSQL under /usr/lib/postgresql/*/bin (Debian's `postgresql` package; \
             `cargo xtask setup` installs it)"
                .into(),
        )
    })
}

/// `<root>/<version>/bin` with an `initdb`, for the highest numeric version.
fn newest_version_bin(root: &Path) -> Option<PathBuf> {
    std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: f64 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, bin)| bin)
}

fn is_root() -> bool {
    id(&["-u"]).is_ok_and(|uid| uid == 0)
}

/// `id ARGS` as a number.
fn id(args: &[&str]) -> Result<u32, Error> {
    let out = Command::new("id")
        .args(args)
        .output()
        .map_err(Error::io("running id"))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| Error::Unavailable(format!("`id {}` gave no number", args.join(" "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_version_with_an_initdb_wins() {
        let root = temp_dir("pg-versions").expect("temp dir");
        for (version, has_initdb) in [("9.6", true), ("15", true), ("17", false), ("x", true)] {
            let bin = root.path().join(version).join("bin");
            std::fs::create_dir_all(&bin).expect("bin dir");
            if has_initdb {
                std::fs::write(bin.join("initdb"), b"").expect("initdb");
            }
        }
        assert_eq!(
            newest_version_bin(root.path()),
            Some(root.path().join("15/bin"))
        );
        assert_eq!(newest_version_bin(&root.path().join("none")), None);
    }

    /// A cluster starts and takes connections on its port; once the guard drops,
    /// nothing listens there and its directory is gone.
    #[test]
    fn a_cluster_starts_and_is_removed_on_drop() -> Result<(), Error> {
        let Some(pg) = Postgres::for_test("a_cluster_starts_and_is_removed_on_drop")? else {
            return Ok(());
        };
        let url = pg.create_database("second")?;
        assert!(url.ends_with("/second"), "{url}");
        assert!(pg.url().ends_with("/latchkey"));
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], pg.port()));
        std::net::TcpStream::connect(addr).map_err(Error::io("connecting"))?;
        let dir = pg.dir.path().to_path_buf();
        assert!(dir.join("data/PG_VERSION").is_file());
        drop(pg);
        assert!(!dir.exists());
        assert!(std::net::TcpStream::connect(addr).is_err());
        Ok(())
    }
}

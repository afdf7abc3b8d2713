//! The axum + jsonwebtoken peer (`src/bin/latchkey-peer-axum.rs`): the login API a
//! Rust team would write instead of latchkey-server, revocation in its own memory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::server::listening_addr;
use crate::{Deadline, Error, Process, locate, target_dir};

/// How long the peer gets to print its `listening on` line (it hashes two passwords
/// first).
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The peer's user, as in the binary.
pub const USER: (&str, &str) = ("alice", "correct horse battery staple");

/// A running peer, killed when dropped.
pub struct AxumPeer {
    process: Process,
    addr: SocketAddr,
}

impl AxumPeer {
    /// The peer binary: `$LATCHKEY_PEER_AXUM_BIN`, else `target/debug/latchkey-peer-axum`.
    ///
    /// # Errors
    /// `Error::NotBuilt` when it has not been built.
    pub fn binary() -> Result<PathBuf, Error> {
        locate(
            "LATCHKEY_PEER_AXUM_BIN",
            target_dir().join("debug/latchkey-peer-axum"),
            "cargo build -p latchkey-harness --bin latchkey-peer-axum",
        )
    }

    /// Starts `bin --bind 127.0.0.1:0` and waits for its `listening on` line.
    ///
    /// # Errors
    /// `Error::Io` when it cannot start, `Error::Exited` when it exits first,
    /// `Error::Timeout` when the line does not come within 20 s.
    pub fn start(bin: &Path) -> Result<AxumPeer, Error> {
        let mut process = Process::spawn(
            "latchkey-peer-axum",
            Command::new(bin).args(["--bind", "127.0.0.1:0"]),
        )?;
        let addr = process.wait_for_line(
            Deadline::after(START_TIMEOUT),
            "the `listening on http://ADDR` line",
            listening_addr,
        )?;
        Ok(AxumPeer { process, addr })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `Ok(())` while it runs.
    ///
    /// # Errors
    /// `Error::Exited` with its output once it has stopped.
    pub fn check_running(&mut self) -> Result<(), Error> {
        self.process.check_running()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Client;
    use crate::scenario;

    /// Login, GET /me, a forged token, logout and the revoked token, on the real binary.
    #[test]
    #[ignore = "needs the peer binary: cargo build -p latchkey-harness --bins \
                (cargo xtask test does)"]
    fn the_peer_logs_in_verifies_and_revokes_in_its_memory() {
        let bin = AxumPeer::binary().expect("built");
        let mut peer = AxumPeer::start(&bin).expect("starts");
        let mut client = Client::new(peer.addr());
        client.set_timeout(Duration::from_secs(60));
        let (wrong, token) = scenario::login(&mut client, USER.0, "wrong").expect("answers");
        assert_eq!((wrong.status, token), (401, None));
        let (_, token) = scenario::login(&mut client, USER.0, USER.1).expect("answers");
        let token = token.expect("an access token");
        let me = client.get("/me", Some(&token)).expect("answers");
        assert_eq!(me.status, 200, "{}", me.text());
        assert!(me.text().contains("alice"), "{}", me.text());
        let forged = client
            .get("/me", Some(&scenario::tamper(&token)))
            .expect("answers");
        assert_eq!(forged.status, 401);
        let out = client.delete("/logout", Some(&token)).expect("answers");
        assert_eq!(out.status, 200, "{}", out.text());
        let after = client.get("/me", Some(&token)).expect("answers");
        assert_eq!(after.status, 401);
        peer.check_running().expect("still running");
    }
}

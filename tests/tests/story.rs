//! The whole story with a real server (port 0, SQLite in a temp dir) and the real
//! firmware under QEMU: login, command token, the device obeys; every refusal path;
//! a server restart in the middle. The same story `cargo xtask demo` shows.

use latchkey_harness::scenario::{self, Story};
use latchkey_harness::{Error, Qemu, Server, temp_dir};

#[test]
#[ignore = "needs qemu-system-arm: run cargo xtask test"]
fn the_whole_story_with_a_server_restart() -> Result<(), Error> {
    let dir = temp_dir("story")?;
    let elf = Qemu::firmware_elf()?;
    let prepared = scenario::prepare(&Server::binary()?, &dir.path().join("latchkey.db"), &elf)?;
    let server = prepared.builder.clone().start()?;
    let mut device = Qemu::start(&elf)?;
    let mut story = Story::new(false);
    let server = scenario::tell(&prepared, server, &mut device, &mut story)?;
    assert!(
        story.failures().is_empty(),
        "{:#?}\n{}\n{}",
        story.failures(),
        story.transcript().text(),
        server.logs()
    );
    story.transcript().check("story")
}

//! The real server binary alone: start on port 0, a wrong password, the JSON error shape.

use std::time::Duration;

use latchkey_harness::scenario::{self, PASSWORD, USER};
use latchkey_harness::{Error, Server, temp_dir};

#[test]
#[ignore = "needs the latchkey-server binary: run cargo xtask test"]
fn wrong_password_and_unknown_user_look_the_same() -> Result<(), Error> {
    let dir = temp_dir("server")?;
    let builder = scenario::server(&Server::binary()?, &dir.path().join("latchkey.db"));
    scenario::provision(&builder)?;
    let server = builder.start()?;
    let mut http = server.client();
    http.set_timeout(Duration::from_secs(60));
    assert_eq!(http.get("/healthz", None)?.status, 200);

    let (wrong, token) = scenario::login(&mut http, USER, "not the password")?;
    assert_eq!((wrong.status, token), (401, None));
    let (unknown, _) = scenario::login(&mut http, "mallory", PASSWORD)?;
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.json()?["error"], unknown.json()?["error"]);

    let (ok, token) = scenario::login(&mut http, USER, PASSWORD)?;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(token.is_some());
    Ok(())
}

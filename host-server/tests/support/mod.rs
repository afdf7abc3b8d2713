//! What the server's integration tests share: the binary, and the few API calls
//! they make through the harness's HTTP client.

use std::time::Duration;

use latchkey_harness::Error;
use latchkey_harness::Server;
use latchkey_harness::http::{Client, Response};
use serde_json::{Value, json};

/// The server binary this package builds.
pub const BIN: &str = env!("CARGO_BIN_EXE_latchkey-server");

/// Debug builds hash passwords slowly (about 1 s of CPU each), and concurrent logins
/// queue for the hashing threads: a long limit for one request.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(150);

/// An HTTP client for `server` with [`HTTP_TIMEOUT`].
pub fn client(server: &Server) -> Client {
    let mut http = server.client();
    http.set_timeout(HTTP_TIMEOUT);
    http
}

/// `POST /login` with a JSON username and password.
pub fn login(http: &mut Client, user: &str, password: &str) -> Result<Response, Error> {
    http.post_json(
        "/login",
        &json!({ "username": user, "password": password }),
        None,
    )
}

/// `POST path` without a body, with a bearer token (`/refresh`, `/logout`).
pub fn post(http: &mut Client, path: &str, token: &str) -> Result<Response, Error> {
    http.request("POST", path, Some(token), None)
}

/// The status and the JSON body of an answer.
pub fn parts(response: &Response) -> Result<(u16, Value), Error> {
    Ok((response.status, response.json()?))
}

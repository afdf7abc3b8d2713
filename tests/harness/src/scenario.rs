//! The story's cast and set-up, shared by the end-to-end tests and `latchkey-demo`:
//! a user with grants on the development device, logged in over HTTP, asking for
//! command tokens that the device under QEMU then judges.

use std::path::Path;
use std::time::{Duration, Instant};

use latchkey_protocol::{Command, LEEWAY};
use serde_json::{Value, json};

use crate::golden::Transcript;
use crate::http::{Client, Response};
use crate::{Error, Qemu, Server, ServerBuilder};

/// The device id the firmware is built with by default (its DEVELOPMENT ONLY key).
pub const DEVICE: &str = "dev-1";
/// The demo user.
pub const USER: &str = "alice";
/// The demo user's password (DEVELOPMENT ONLY).
pub const PASSWORD: &str = "correct horse battery staple";
/// What the demo user may do on [`DEVICE`]; `led` is deliberately missing.
pub const GRANTED: &[&str] = &["open", "close", "status"];

/// A server on `db` with the DEVELOPMENT ONLY keys, which match the firmware's
/// development device key.
pub fn server(bin: &Path, db: &Path) -> ServerBuilder {
    ServerBuilder::new(bin, db).env("LATCHKEY_DEV_KEYS", "1")
}

/// Creates [`USER`] with [`GRANTED`] on [`DEVICE`] in the builder's database.
///
/// # Errors
/// When an admin command fails.
pub fn provision(server: &ServerBuilder) -> Result<(), Error> {
    server.admin(&["user", "add", USER], &format!("{PASSWORD}\n"))?;
    server.admin(&["device", "add", DEVICE, "--description", "demo door"], "")?;
    let mut grant = vec!["user", "grant", USER, DEVICE];
    grant.extend_from_slice(GRANTED);
    server.admin(&grant, "")?;
    Ok(())
}

/// `POST /login`; the response and, on success, the access token.
///
/// # Errors
/// On HTTP trouble.
pub fn login(
    client: &mut Client,
    user: &str,
    password: &str,
) -> Result<(Response, Option<String>), Error> {
    let response = client.post_json(
        "/login",
        &json!({ "username": user, "password": password }),
        None,
    )?;
    let token = field(&response, "access_token");
    Ok((response, token))
}

/// `POST /devices/{device}/commands` with the access token; the response and, on
/// success, the command token.
///
/// # Errors
/// On HTTP trouble.
pub fn command_token(
    client: &mut Client,
    access: &str,
    device: &str,
    command: &str,
    args: Option<Value>,
) -> Result<(Response, Option<String>), Error> {
    let mut body = json!({ "command": command });
    if let Some(args) = args {
        body["args"] = args;
    }
    let response = client.post_json(&format!("/devices/{device}/commands"), &body, Some(access))?;
    let token = field(&response, "token");
    Ok((response, token))
}

/// A command token signed offline by the server's CLI with a lifetime of `ttl` seconds
/// (to make an expired one).
///
/// # Errors
/// When the command fails.
pub fn offline_command_token(
    server: &ServerBuilder,
    device: &str,
    command: &str,
    ttl: u64,
) -> Result<String, Error> {
    let ttl = ttl.to_string();
    let out = server.admin(
        &[
            "token",
            "issue",
            "--kind",
            "command",
            "--user",
            USER,
            "--device",
            device,
            "--command",
            command,
            "--ttl",
            &ttl,
        ],
        "",
    )?;
    Ok(out.trim().to_string())
}

/// The string field `name` of a 2xx JSON response.
pub fn field(response: &Response, name: &str) -> Option<String> {
    if !(200..300).contains(&response.status) {
        return None;
    }
    let json = response.json().ok()?;
    json.get(name)?.as_str().map(str::to_string)
}

/// The token with one character in the middle of its signature changed.
pub fn tamper(token: &str) -> String {
    let Some(dot) = token.rfind('.') else {
        return format!("{token}x");
    };
    let mut bytes = token.as_bytes().to_vec();
    let at = dot + (bytes.len() - dot) / 2;
    if let Some(b) = bytes.get_mut(at) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    String::from_utf8(bytes).unwrap_or_default()
}

/// Device-side leeway on `exp` (the contract's `LEEWAY`, 5 s) plus the token's 1 s
/// lifetime, plus a margin for whole-second claims and the device clock's granularity.
const EXPIRY_WAIT: Duration = Duration::from_secs(LEEWAY + 1 + 3);
/// HTTP timeout: a password hash in a debug build can take seconds.
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// A story being told: its transcript (for the golden file), what went unexpectedly,
/// and, when `echo` is on, each step printed readably as it happens.
#[derive(Debug)]
pub struct Story {
    transcript: Transcript,
    failures: Vec<String>,
    echo: bool,
    steps: usize,
}

impl Story {
    /// A new story; `echo` prints it as it goes (the demo), otherwise it is silent.
    pub fn new(echo: bool) -> Story {
        Story {
            transcript: Transcript::new(),
            failures: Vec::new(),
            echo,
            steps: 0,
        }
    }

    /// The transcript, tokens redacted.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Every expectation that did not hold.
    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// How many steps were told.
    pub fn steps(&self) -> usize {
        self.steps
    }

    fn step(&mut self, title: &str) {
        self.steps += 1;
        self.transcript.note(title);
        if self.echo {
            println!("\n[{}] {title}", self.steps);
        }
    }

    /// Sends `command` with `token` to the device; the verdict without its id
    /// (`OK opened`), which the harness checked to echo the request's id.
    fn uart(&mut self, device: &mut Qemu, command: Command, token: &str) -> Result<String, Error> {
        let exchange = device.command(command, token)?;
        if self.echo {
            println!("    device <- {}", shorten(&exchange.request));
            println!("    device -> {}", exchange.verdict);
        }
        self.transcript.uart(&exchange.request, &exchange.verdict);
        Ok(exchange.answer().to_owned())
    }

    fn http(&mut self, what: &str, response: &Response) {
        if self.echo {
            println!(
                "    server: {what} -> {} {}",
                response.status,
                shorten(&response.text())
            );
        }
        self.transcript.http("", what, response.status, "");
    }

    fn expect(&mut self, ok: bool, expected: &str) {
        if ok {
            if self.echo {
                println!("    as expected: {expected}");
            }
        } else {
            if self.echo {
                println!("    UNEXPECTED: wanted {expected}");
            }
            self.failures
                .push(format!("step {}: wanted {expected}", self.steps));
        }
    }
}

/// Long tokens cut for the screen: `eyJhbGciOiJIUzI1NiIs...(284 chars)`.
pub fn shorten(text: &str) -> String {
    crate::golden::map_words(text, |word| {
        if word.len() > 40 && word.starts_with("eyJ") {
            format!(
                "{}...({} chars)",
                word.get(..20).unwrap_or(word),
                word.len()
            )
        } else {
            word.to_owned()
        }
    })
}

/// What is set up before the story: the provisioned database and a command token with
/// a 1 s lifetime, signed at set-up so that it has expired when the story shows it.
#[derive(Debug)]
pub struct Prepared {
    /// Starts the server on the provisioned database.
    pub builder: ServerBuilder,
    short_lived: String,
    signed_at: Instant,
}

/// Provisions `db` (see [`provision`]) and signs the short-lived token.
///
/// # Errors
/// When an admin command fails.
pub fn prepare(bin: &Path, db: &Path) -> Result<Prepared, Error> {
    let builder = server(bin, db);
    provision(&builder)?;
    let signed_at = Instant::now();
    let short_lived = offline_command_token(&builder, DEVICE, "status", 1)?;
    Ok(Prepared {
        builder,
        short_lived,
        signed_at,
    })
}

fn need(token: Option<String>, what: &str, response: &Response) -> Result<String, Error> {
    token.ok_or_else(|| {
        Error::Protocol(format!(
            "{what}: HTTP {} {} (the story cannot go on)",
            response.status,
            response.text()
        ))
    })
}

/// The story, told against a running `server` (from `prepared.builder`) and `device`:
/// login; a granted command obeyed; the token replayed; a token used for another
/// command; a command outside the grants; a tampered token; an expired token; logout
/// and the revoked token; a server restart that keeps the user and the revocation.
/// Unexpected answers are recorded in `story` and the story goes on; it stops with an
/// error only when a step it needs (a token) is missing. Returns the restarted server.
///
/// # Errors
/// On HTTP or UART trouble, or when a needed token is not issued.
pub fn tell(
    prepared: &Prepared,
    server: Server,
    device: &mut Qemu,
    story: &mut Story,
) -> Result<Server, Error> {
    let mut http = server.client();
    http.set_timeout(HTTP_TIMEOUT);

    story.step(&format!("{USER} logs in"));
    let (response, access) = login(&mut http, USER, PASSWORD)?;
    story.http("POST /login", &response);
    let access = need(access, "login", &response)?;
    story.expect(response.status == 200, "200 and an access token");

    story.step(&format!(
        "{USER} asks for `open` on {DEVICE} (granted): the device obeys"
    ));
    let (response, open) = command_token(&mut http, &access, DEVICE, "open", None)?;
    story.http(&format!("POST /devices/{DEVICE}/commands open"), &response);
    let open = need(open, "open token", &response)?;
    let answer = story.uart(device, Command::Open, &open)?;
    story.expect(answer == "OK opened", "OK opened");

    story.step("The same command token again: the device refuses a replay");
    let answer = story.uart(device, Command::Open, &open)?;
    story.expect(answer == "DENIED replayed", "DENIED replayed");

    story.step("A token for `open` sent with `close`: outside its scope");
    let (response, other) = command_token(&mut http, &access, DEVICE, "open", None)?;
    let other = need(other, "second open token", &response)?;
    let answer = story.uart(device, Command::Close, &other)?;
    story.expect(answer == "DENIED missing-scope", "DENIED missing-scope");

    story.step(&format!(
        "{USER} asks for `led 128` (not granted): the server refuses"
    ));
    let (response, token) = command_token(&mut http, &access, DEVICE, "led", Some(json!([128])))?;
    story.http(
        &format!("POST /devices/{DEVICE}/commands led 128"),
        &response,
    );
    story.expect(response.status == 403 && token.is_none(), "403, no token");

    story.step("A tampered command token (one signature character changed)");
    let (response, status) = command_token(&mut http, &access, DEVICE, "status", None)?;
    let status = need(status, "status token", &response)?;
    let answer = story.uart(device, Command::Status, &tamper(&status))?;
    story.expect(answer == "DENIED bad-signature", "DENIED bad-signature");
    let answer = story.uart(device, Command::Status, &status)?;
    story.expect(
        answer.starts_with("OK door=open"),
        "the untampered token works: OK door=open ...",
    );

    story.step("An expired command token (1 s lifetime, device leeway 5 s)");
    if let Some(wait) = EXPIRY_WAIT.checked_sub(prepared.signed_at.elapsed()) {
        if story.echo {
            println!("    (waiting {:.1} s for it to expire)", wait.as_secs_f64());
        }
        std::thread::sleep(wait);
    }
    let answer = story.uart(device, Command::Status, &prepared.short_lived)?;
    story.expect(answer == "DENIED expired", "DENIED expired");

    story.step(&format!(
        "{USER} logs out; the revoked access token is refused"
    ));
    let response = http.post_json("/logout", &json!({}), Some(&access))?;
    story.http("POST /logout", &response);
    story.expect(response.status == 200, "200");
    let (response, token) = command_token(&mut http, &access, DEVICE, "open", None)?;
    story.http(&format!("POST /devices/{DEVICE}/commands open"), &response);
    story.expect(response.status == 401 && token.is_none(), "401, no token");

    story.step("The server restarts: the user and the revocation survive");
    let server = server.restart()?;
    let mut http = server.client();
    http.set_timeout(HTTP_TIMEOUT);
    let (response, token) = command_token(&mut http, &access, DEVICE, "open", None)?;
    story.http(
        &format!("POST /devices/{DEVICE}/commands open (revoked token)"),
        &response,
    );
    story.expect(response.status == 401 && token.is_none(), "401, no token");
    let (response, again) = login(&mut http, USER, PASSWORD)?;
    story.http("POST /login", &response);
    let again = need(again, "login after the restart", &response)?;
    let (response, close) = command_token(&mut http, &again, DEVICE, "close", None)?;
    story.http(&format!("POST /devices/{DEVICE}/commands close"), &response);
    let close = need(close, "close token", &response)?;
    let answer = story.uart(device, Command::Close, &close)?;
    story.expect(answer == "OK closed", "OK closed");
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tamper_changes_one_signature_character() {
        let token = "eyJh.eyJz.abcdefghijklmnop";
        let t = tamper(token);
        assert_eq!(t.len(), token.len());
        let differing: Vec<usize> = (0..t.len())
            .filter(|&i| t.as_bytes()[i] != token.as_bytes()[i])
            .collect();
        assert_eq!(differing.len(), 1);
        assert!(differing[0] > token.rfind('.').expect("dot"));
    }

    #[test]
    fn shorten_cuts_only_tokens() {
        let token = format!("eyJ{}.eyJ{}.sig", "a".repeat(30), "b".repeat(30));
        let text = format!("open {token}");
        assert_eq!(
            shorten(&text),
            format!("open eyJaaaaaaaaaaaaaaaaa...({} chars)", token.len())
        );
        assert_eq!(shorten("DENIED bad-signature"), "DENIED bad-signature");
    }

    #[test]
    fn field_reads_only_successful_json() {
        let ok = Response {
            status: 200,
            headers: Vec::new(),
            body: br#"{"token":"t1","n":1}"#.to_vec(),
        };
        assert_eq!(field(&ok, "token").as_deref(), Some("t1"));
        assert_eq!(field(&ok, "n"), None);
        let denied = Response {
            status: 403,
            ..ok.clone()
        };
        assert_eq!(field(&denied, "token"), None);
    }
}

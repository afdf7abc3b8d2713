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

    /// A line of the story that is neither a request nor an answer.
    fn fact(&mut self, text: &str) {
        if self.echo {
            println!("    {text}");
        }
        self.transcript.note(text);
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
    /// What the firmware holds, one line per key (see [`public_keys_only`]).
    holdings: Vec<String>,
    short_lived: String,
    signed_at: Instant,
}

/// Provisions `db` (see [`provision`]), checks that the firmware at `elf` was built
/// from what the server provisions for [`DEVICE`] and holds its public keys only,
/// and signs the short-lived token.
///
/// # Errors
/// When an admin command fails, or the firmware is not what the server provisions.
pub fn prepare(bin: &Path, db: &Path, elf: &Path) -> Result<Prepared, Error> {
    let builder = server(bin, db);
    provision(&builder)?;
    let provisioning = check_provisioning(&builder)?;
    let holdings = public_keys_only(elf, &provisioning)?;
    let signed_at = Instant::now();
    let short_lived = offline_command_token(&builder, DEVICE, "status", 1)?;
    Ok(Prepared {
        builder,
        holdings,
        short_lived,
        signed_at,
    })
}

/// The provisioning the default firmware build is made from:
/// `firmware/provisioning/dev-1.json`.
///
/// # Errors
/// When it cannot be read.
pub fn firmware_provisioning() -> Result<Value, Error> {
    let path = crate::workspace_root().join("firmware/provisioning/dev-1.json");
    let text = std::fs::read(&path).map_err(Error::io(format!("reading {}", path.display())))?;
    serde_json::from_slice(&text).map_err(|e| Error::Protocol(format!("{}: {e}", path.display())))
}

/// `latchkey-server device provision dev-1` on the builder's database must print
/// what the firmware was built from ([`firmware_provisioning`]): the two cannot drift.
///
/// # Errors
/// `Error::Protocol` when they differ.
pub fn check_provisioning(server: &ServerBuilder) -> Result<Value, Error> {
    let printed = server.admin(&["device", "provision", DEVICE], "")?;
    let printed: Value = serde_json::from_str(&printed)
        .map_err(|e| Error::Protocol(format!("device provision: {e}")))?;
    let built = firmware_provisioning()?;
    if printed != built {
        return Err(Error::Protocol(format!(
            "firmware/provisioning/dev-1.json is not what `device provision {DEVICE}` prints:\n{printed:#}"
        )));
    }
    Ok(built)
}

/// Checks that the firmware ELF holds the public keys of `provisioning` (the root's
/// and the command keys') and none of the secrets of the development key set: the
/// root's and the command key's Ed25519 seeds, the master secret, the session key,
/// and the HS256 key an HMAC build of `dev-1` would hold. Returns one line per key
/// held, for the story.
///
/// # Errors
/// `Error::Protocol` naming a public key that is missing or a secret that is there.
pub fn public_keys_only(elf: &Path, provisioning: &Value) -> Result<Vec<String>, Error> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let image = std::fs::read(elf).map_err(Error::io(format!("reading {}", elf.display())))?;
    let contains = |needle: &[u8]| image.windows(needle.len()).any(|w| w == needle);
    let run = |from: u8| -> Vec<u8> { (from..from + 32).collect() };
    let secrets = [
        ("the development root's seed", run(0x40)),
        ("the development command key's seed", run(0x60)),
        ("the development master secret", run(0x00)),
        ("the development session key", run(0x20)),
        ("dev-1's HS256 key", unhex(DEV_1_HS256_KEY)),
    ];
    for (what, secret) in secrets {
        if contains(&secret) {
            return Err(Error::Protocol(format!("{what} is in {}", elf.display())));
        }
    }
    let mut held = Vec::new();
    let root = std::iter::once((&provisioning["root_key"], "root key"));
    let commands = provisioning["command_keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| (k, "command key"));
    for (jwk, role) in root.chain(commands) {
        let kid = jwk["kid"].as_str().unwrap_or("?");
        let x = Base64UrlUnpadded::decode_vec(jwk["x"].as_str().unwrap_or_default())
            .map_err(|e| Error::Protocol(format!("{role} {kid}: {e}")))?;
        if x.len() != 32 || !contains(&x) {
            return Err(Error::Protocol(format!(
                "the {role} {kid} is not in {}",
                elf.display()
            )));
        }
        held.push(format!(
            "{role} {kid}: {} public key, {}",
            jwk["alg"].as_str().unwrap_or("?"),
            hex(&x)
        ));
    }
    Ok(held)
}

/// The HS256 key an HMAC build of `dev-1` holds (derived from the development
/// master secret; firmware/README.md, "Provisioning").
const DEV_1_HS256_KEY: &str = "2b21beaf733f9f93849d868ae626dba5896e6456dd29da598061bf135517cd01";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| text.get(2 * i..2 * i + 2))
        .filter_map(|pair| u8::from_str_radix(pair, 16).ok())
        .collect()
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

    story.step(&format!(
        "{DEVICE} holds public keys only (its build is `device provision {DEVICE}`; no secret in its flash image)"
    ));
    for line in &prepared.holdings {
        story.fact(line);
    }

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

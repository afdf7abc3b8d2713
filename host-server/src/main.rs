//! The `latchkey-server` binary: `serve`, and the offline `user`, `device` and
//! `token` commands that work on the same database and key file.

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use latchkey_core::{Algorithm, ClaimSet, Key, Validation, Verifier};
use latchkey_server::api::{COMMANDS, issue_command_token, valid_device_id, valid_username};
use latchkey_server::keys::{KeySet, Ring, RootKey, from_hex, to_hex};
use latchkey_server::store::{self, AuditFilter, Database};
use latchkey_server::tokens::{Issued, Lifetimes, TokenService, unix_now};
use latchkey_server::{Config, Error, TlsFiles, auth, bridge};
use std::io::{BufRead, IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The name of the `trust` command, which only a grant naming it allows.
const TRUST: &str = "trust";

/// Environment variable that turns on the DEVELOPMENT ONLY keys (`1`).
const DEV_KEYS_ENV: &str = "LATCHKEY_DEV_KEYS";

#[derive(Parser)]
#[command(
    name = "latchkey-server",
    version,
    about = "Latchkey login and command-token server"
)]
struct Cli {
    /// The database: an SQLite file (created and migrated on first use), or a
    /// PostgreSQL URL `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (migrated on
    /// first use). Give a URL with a password in $LATCHKEY_DB_URL, not here.
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_DB_URL",
        hide_env_values = true,
        default_value = "latchkey.db",
        value_parser = parse_database
    )]
    db: Database,
    /// Key file (created with random keys, mode 0600, if absent). The JSON may
    /// instead be given in $LATCHKEY_KEYS_JSON.
    #[arg(long, global = true, default_value = "latchkey-keys.json")]
    keys: PathBuf,
    /// Use the fixed DEVELOPMENT ONLY keys (also: LATCHKEY_DEV_KEYS=1). Never in production.
    #[arg(long, global = true)]
    dev_keys: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Manage users and their grants.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Issue or inspect tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Read the audit of issued command tokens.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The key rings of the key file, and the root key.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// The root key file, for the commands that use it.
#[derive(Args)]
struct RootKeyArg {
    /// The root key file (Ed25519, signing only trust statements), kept apart
    /// from the serving key file.
    #[arg(long, default_value = "latchkey-root-key.json")]
    root_key: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum RingArg {
    Session,
    Command,
}

impl From<RingArg> for Ring {
    fn from(r: RingArg) -> Ring {
        match r {
            RingArg::Session => Ring::Session,
            RingArg::Command => Ring::Command,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyAlgArg {
    #[value(name = "HS256")]
    Hs256,
    #[value(name = "EdDSA")]
    EdDsa,
    #[value(name = "ES256")]
    Es256,
    #[value(name = "RS256")]
    Rs256,
}

impl From<KeyAlgArg> for Algorithm {
    fn from(a: KeyAlgArg) -> Algorithm {
        match a {
            KeyAlgArg::Hs256 => Algorithm::Hs256,
            KeyAlgArg::EdDsa => Algorithm::EdDsa,
            KeyAlgArg::Es256 => Algorithm::Es256,
            KeyAlgArg::Rs256 => Algorithm::Rs256,
        }
    }
}

#[derive(Subcommand)]
enum KeysCommand {
    /// One line per key, `KID<TAB>RING<TAB>ALG<TAB>CREATED` (CREATED in UTC, or `-`),
    /// signing keys first in each ring. Never prints key material.
    List,
    /// Put a new key first in a ring: it signs from the next start; the old keys
    /// still verify (and stay published) until retired.
    Rotate {
        /// The ring.
        #[arg(long, value_enum)]
        ring: RingArg,
        /// The new key's algorithm: session keys HS256 (default; never
        /// published), EdDSA, ES256 or RS256 (published, so other services can
        /// verify access tokens); command keys EdDSA (default), ES256 or RS256.
        #[arg(long, value_enum)]
        alg: Option<KeyAlgArg>,
    },
    /// Remove a key from a ring (not the last session key, nor the last command
    /// key of an algorithm a device is bound to).
    Retire {
        /// The ring.
        #[arg(long, value_enum)]
        ring: RingArg,
        /// The key's kid.
        kid: String,
    },
    /// The published JWK Set on stdout, as `GET /.well-known/jwks.json` serves
    /// it: the public session keys and the command ring (never an HS256 key).
    ExportPublic,
    /// Create the root key file (Ed25519, mode 0600); never overwrites one.
    RootInit {
        #[command(flatten)]
        root: RootKeyArg,
        /// Write the DEVELOPMENT ONLY root key (`dev-root`, whose private half is
        /// public knowledge) instead of a new one: to try trust statements on a
        /// development firmware build, which trusts it. Never in production.
        #[arg(long)]
        development: bool,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Issued command tokens, oldest first: one line each,
    /// `ISSUED<TAB>USER<TAB>DEVICE<TAB>COMMAND[ ARG]<TAB>JTI<TAB>SOURCE`
    /// (ISSUED in UTC, RFC 3339).
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        /// Only this device's.
        #[arg(long)]
        device: Option<String>,
        /// At most this many, the newest.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

fn parse_database(text: &str) -> Result<Database, String> {
    if text.is_empty() {
        return Err("empty".into());
    }
    Ok(Database::parse(text))
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free one (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// A device bridge, `ID=tcp://HOST:PORT` (QEMU's serial port); repeatable.
    #[arg(long = "device", value_name = "ID=tcp://HOST:PORT")]
    devices: Vec<String>,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 900)]
    access_ttl: u64,
    /// Refresh token lifetime in seconds.
    #[arg(long, default_value_t = 30 * 24 * 3600)]
    refresh_ttl: u64,
    /// Command token lifetime in seconds, at most 300: devices refuse longer ones.
    #[arg(long, default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=latchkey_protocol::MAX_LIFETIME))]
    command_ttl: u64,
    /// Password hashes computed at once (default: cores - 1, at least 1).
    #[arg(long)]
    hash_concurrency: Option<usize>,
    /// Worker threads of the tokio runtime that serves HTTP (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    http_threads: Option<u16>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (mode 0600 or stricter).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The root public key (an Ed25519 JWK, e.g. `root_key` of `device
    /// provision`) that trust statements must be signed by before
    /// `POST /devices/{id}/trust` sends them. Without it (and without
    /// --dev-keys) trust delivery is off.
    #[arg(long, value_name = "JWK")]
    root_public_key: Option<PathBuf>,
    /// Seconds a login may wait for a hashing slot before it is refused with 429.
    #[arg(long, default_value_t = 10)]
    hash_queue_timeout: u64,
    /// Seconds a request may take: its head must arrive within it (so also how
    /// long an idle keep-alive connection stays open), and it must be received
    /// and answered within it (else 408).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    request_timeout: u64,
    /// Failed logins allowed per username per minute.
    #[arg(long, default_value_t = 5)]
    max_failures_per_user: u32,
    /// Failed logins allowed per client address per minute.
    #[arg(long, default_value_t = 20)]
    max_failures_per_address: u32,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log: tracing::Level,
    /// Read the revocation counter for every authenticated request instead of
    /// keeping a revocation lease (a watcher thread that reads it every 2 ms, or
    /// 10 ms when idle; changes wait until every instance applied them, at most
    /// 2 s). For hosts whose clock stops while the process is paused (a paused
    /// virtual machine).
    #[arg(long)]
    no_lease: bool,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from stdin (first line) or a prompt.
    Add {
        /// Username (1-128 bytes, no control characters).
        name: String,
    },
    /// List users and their grants.
    List,
    /// Remove a user, their grants, and revoke all their refresh families.
    Remove {
        /// Username.
        name: String,
    },
    /// Grant commands on devices matching a pattern (`*`, `prefix*` or an id).
    Grant {
        /// Username.
        name: String,
        /// Device pattern.
        device: String,
        /// Commands (`open`, `close`, `status`, `led`, or `*` for all of them);
        /// `trust` lets the user deliver trust statements (`*` does not include it).
        #[arg(required = true)]
        commands: Vec<String>,
    },
    /// Remove commands from a grant (all of them if none are named).
    Revoke {
        /// Username.
        name: String,
        /// Device pattern, exactly as granted.
        device: String,
        /// Commands to remove.
        commands: Vec<String>,
    },
}

#[derive(Subcommand)]
enum DeviceCommand {
    /// Register a device.
    Add {
        /// Device id (1-64 of A-Z a-z 0-9 . _ -).
        id: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        /// The algorithm of its command tokens: EdDSA (the default), ES256 or
        /// RS256, signed by the command ring (the device holds public keys only);
        /// or HS256, opt-in for firmware built with HMAC (a key derived for the
        /// device). Kept in the database.
        #[arg(long, value_enum, default_value = "EdDSA")]
        command_alg: KeyAlgArg,
    },
    /// Change the algorithm of a device's command tokens (EdDSA, ES256, RS256 or
    /// HS256), e.g. after reflashing it with a build that verifies another one.
    SetAlg {
        /// Device id.
        id: String,
        /// The new algorithm.
        #[arg(value_enum)]
        alg: KeyAlgArg,
    },
    /// Sign the device's next trust statement with the root key and print it
    /// (a compact JWS, `typ` lk-trust+jwt): its epoch is one above the last one
    /// signed for the device (kept in the database); deliver it with
    /// `POST /devices/{id}/trust`.
    Trust {
        /// Device id.
        id: String,
        /// A command key (by kid) whose public JWK the statement adds; repeatable.
        #[arg(long = "add", value_name = "KID")]
        add: Vec<String>,
        /// A kid the statement retires; repeatable.
        #[arg(long = "retire", value_name = "KID")]
        retire: Vec<String>,
        #[command(flatten)]
        root: RootKeyArg,
    },
    /// List devices.
    List,
    /// Print the device's derived HS256 key as hex (for provisioning its firmware).
    Key {
        /// Device id.
        id: String,
    },
    /// What a firmware build needs, as JSON: the device id, its command-token
    /// algorithm, the root public key, the trusted command keys (JWKs), and for an
    /// HS256 device its derived key.
    Provision {
        /// Device id.
        id: String,
        #[command(flatten)]
        root: RootKeyArg,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum TokenKind {
    Access,
    Refresh,
    Command,
}

/// `--alg`: any JWS algorithm name this crate knows (`none` is none of them).
fn parse_alg(name: &str) -> Result<Algorithm, String> {
    Algorithm::from_name(name).map_err(|_| {
        let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

#[derive(Clone, Copy, ValueEnum)]
enum ClaimArg {
    Exp,
    Nbf,
    Iat,
    Iss,
    Aud,
    Sub,
    Jti,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Sign a token with the server's keys (debugging and provisioning).
    Issue {
        /// Subject (username).
        #[arg(long)]
        user: String,
        /// Which kind of token.
        #[arg(long, value_enum, default_value = "access")]
        kind: TokenKind,
        /// Device id (command tokens).
        #[arg(long)]
        device: Option<String>,
        /// Command name (command tokens).
        #[arg(long)]
        command: Option<String>,
        /// The command's argument, bound into the token (`led`'s level, 0-255).
        #[arg(long)]
        arg: Option<u8>,
        /// Lifetime in seconds (default: the kind's default).
        #[arg(long)]
        ttl: Option<u64>,
        /// Sign as if the clock read this (unix seconds) instead of now: what a
        /// server whose clock is off would issue (debugging, tests).
        #[arg(long)]
        issued_at: Option<i64>,
    },
    /// Verify a token offline and print its claims (exit 0), or
    /// `invalid: <reason-code>: <text>` on stderr (exit 1); usage errors exit 2.
    #[command(group(ArgGroup::new("key").required(true).args(["key_hex", "key_file", "jwks_file"])))]
    Verify(VerifyArgs),
}

#[derive(Args)]
struct VerifyArgs {
    /// The only algorithm accepted: HS256/384/512, RS256/384/512, PS256/384/512,
    /// ES256, ES384, EdDSA.
    #[arg(long, value_parser = parse_alg)]
    alg: Algorithm,
    /// The key as hex: the secret for HS*, else a DER public key (SPKI, or PKCS#1
    /// for RSA).
    #[arg(long)]
    key_hex: Option<String>,
    /// For HS*, a file whose raw bytes are the secret; else a file holding a PEM
    /// public key (`-----BEGIN`) or one JWK (`{`).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// A JWK Set (`{"keys":[...]}`), up to 16 signature keys; the token's `kid`
    /// picks the key, or without one the single key of `--alg`.
    #[arg(long)]
    jwks_file: Option<PathBuf>,
    /// The current time, seconds since the Unix epoch (default: the clock).
    #[arg(long)]
    now: Option<u64>,
    /// Required issuer.
    #[arg(long)]
    iss: Option<String>,
    /// Required audience (without it, a token carrying `aud` is rejected).
    #[arg(long)]
    aud: Option<String>,
    /// Claims that must be present, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',')]
    require: Vec<ClaimArg>,
    /// Clock skew tolerated, in seconds.
    #[arg(long, default_value_t = 0)]
    leeway: u64,
    /// The token, or `-` to read it from stdin (one trailing newline removed).
    token: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dev_keys = cli.dev_keys || std::env::var(DEV_KEYS_ENV).is_ok_and(|v| v == "1");
    let result = match cli.command {
        Command::Token(TokenCommand::Verify(args)) => return token_verify(&args),
        Command::Serve(args) => serve(&cli.db, &cli.keys, dev_keys, args),
        Command::User(cmd) => user(&cli.db, cmd),
        Command::Audit(AuditCommand::List {
            user,
            device,
            limit,
        }) => audit_list(
            &cli.db,
            AuditFilter {
                username: user,
                device,
                limit,
            },
        ),
        Command::Device(cmd) => device(&cli.db, &cli.keys, dev_keys, cmd),
        Command::Keys(cmd) => keys_command(&cli.db, &cli.keys, dev_keys, cmd),
        Command::Token(TokenCommand::Issue {
            user,
            kind,
            device,
            command,
            arg,
            ttl,
            issued_at,
        }) => token_issue(
            &cli.db,
            &cli.keys,
            dev_keys,
            &user,
            kind,
            device.as_deref(),
            command.as_deref(),
            arg,
            ttl,
            issued_at,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(
    db: &Database,
    keys: &std::path::Path,
    dev_keys: bool,
    args: ServeArgs,
) -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(args.log)
        .init();
    let devices = args
        .devices
        .iter()
        .map(|d| bridge::parse_device_arg(d))
        .collect::<Result<Vec<_>, _>>()?;
    let config = Config {
        bind: args.bind,
        db: db.to_owned(),
        keys: keys.to_owned(),
        dev_keys,
        devices,
        lifetimes: Lifetimes {
            access: Duration::from_secs(args.access_ttl),
            refresh: Duration::from_secs(args.refresh_ttl),
            command: Duration::from_secs(args.command_ttl),
        },
        hash_concurrency: args
            .hash_concurrency
            .unwrap_or_else(latchkey_server::default_hash_concurrency),
        hash_queue_timeout: Duration::from_secs(args.hash_queue_timeout),
        request_timeout: Duration::from_secs(args.request_timeout),
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| TlsFiles { cert, key }),
        root_public_key: args.root_public_key,
        lease: !args.no_lease,
        throttle: auth::ThrottleLimits {
            per_user: args.max_failures_per_user,
            per_address: args.max_failures_per_address,
            window: Duration::from_secs(60),
        },
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            args.http_threads
                .map_or_else(latchkey_server::default_http_threads, usize::from),
        )
        .thread_name("http")
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("tokio runtime: {e}")))?;
    runtime.block_on(latchkey_server::serve(config, |addr| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {scheme}://{addr}");
        let _ = out.flush();
    }))
}

/// The new user's password: typed at a prompt that does not echo it when stdin
/// is a terminal, else the first line of stdin.
fn read_password() -> Result<String, Error> {
    let stdin = std::io::stdin();
    let line = if stdin.is_terminal() {
        rpassword::prompt_password("Password: ")
            .map_err(|e| Error::Config(format!("reading the password: {e}")))?
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| Error::Config(format!("reading the password: {e}")))?;
        line
    };
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(Error::Config(
            "empty password (give it on the first line of stdin)".into(),
        ));
    }
    if password.len() > latchkey_server::api::MAX_PASSWORD {
        return Err(Error::Config("password too long".into()));
    }
    Ok(password.to_owned())
}

fn valid_pattern(pattern: &str) -> bool {
    pattern == "*" || valid_device_id(pattern.strip_suffix('*').unwrap_or(pattern))
}

fn user(db: &Database, cmd: UserCommand) -> Result<(), Error> {
    let store = store::open(db)?;
    match cmd {
        UserCommand::Add { name } => {
            if !valid_username(&name) {
                return Err(Error::Config(
                    "username must be 1-128 bytes without control characters".into(),
                ));
            }
            let password = read_password()?;
            store.add_user(&name, &auth::hash_password(&password)?)?;
            println!("added user {name}");
        }
        UserCommand::List => {
            for name in store.list_users()? {
                let grants: Vec<String> = store
                    .grants(&name)?
                    .into_iter()
                    .map(|g| format!("{}:{}", g.device, g.commands.join(",")))
                    .collect();
                println!("{name}\t{}", grants.join(" "));
            }
        }
        UserCommand::Remove { name } => {
            store.remove_user(&name)?;
            println!("removed user {name}");
        }
        UserCommand::Grant {
            name,
            device,
            commands,
        } => {
            if !valid_pattern(&device) {
                return Err(Error::Config(format!("bad device pattern {device:?}")));
            }
            if let Some(bad) = commands
                .iter()
                .find(|c| *c != "*" && *c != TRUST && !COMMANDS.contains(&c.as_str()))
            {
                return Err(Error::Config(format!(
                    "unknown command {bad:?}; expected {}, {TRUST} or *",
                    COMMANDS.join(", ")
                )));
            }
            store.grant(&name, &device, &commands)?;
            println!("granted {name} {} on {device}", commands.join(","));
        }
        UserCommand::Revoke {
            name,
            device,
            commands,
        } => {
            let n = store.revoke_grant(&name, &device, &commands)?;
            println!("removed {n} grant(s)");
        }
    }
    Ok(())
}

fn device(
    db: &Database,
    keys: &std::path::Path,
    dev_keys: bool,
    cmd: DeviceCommand,
) -> Result<(), Error> {
    match cmd {
        DeviceCommand::Add {
            id,
            description,
            command_alg,
        } => {
            if !valid_device_id(&id) {
                return Err(Error::Config(latchkey_protocol::BadDeviceId.to_string()));
            }
            let alg = Algorithm::from(command_alg);
            // Checked before the device is added: an algorithm the ring cannot
            // sign for would leave a device no token reaches.
            let store = store::open(db)?;
            signable(&KeySet::load_shared(keys, dev_keys, store.as_ref())?, alg)?;
            store.add_device(&id, &description, alg.name())?;
            println!("added device {id} ({alg} command tokens)");
        }
        DeviceCommand::SetAlg { id, alg } => {
            let alg = Algorithm::from(alg);
            let store = store::open(db)?;
            signable(&KeySet::load_shared(keys, dev_keys, store.as_ref())?, alg)?;
            store.set_command_alg(&id, alg.name())?;
            println!("device {id} now takes {alg} command tokens");
        }
        DeviceCommand::Trust {
            id,
            add,
            retire,
            root,
        } => {
            let store = store::open(db)?;
            let k = KeySet::load_shared(keys, dev_keys, store.as_ref())?;
            let root = RootKey::load(&root.root_key, dev_keys)?;
            let add = add
                .iter()
                .map(|kid| {
                    k.command_keys
                        .iter()
                        .find(|c| &c.kid == kid)
                        .ok_or_else(|| Error::Config(format!("no command key {kid:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            // Checked before the epoch moves (at the widest epoch): a statement a
            // device cannot read is refused without spending one.
            root.sign_trust(&id, u32::MAX, &add, &retire)?;
            let epoch = store.next_trust_epoch(&id)?;
            println!("{}", root.sign_trust(&id, epoch, &add, &retire)?);
        }
        DeviceCommand::List => {
            for d in store::open(db)?.list_devices()? {
                println!("{}\t{}", d.id, d.description);
            }
        }
        DeviceCommand::Key { id } => {
            if !valid_device_id(&id) {
                return Err(Error::Config(latchkey_protocol::BadDeviceId.to_string()));
            }
            println!("{}", to_hex(&KeySet::load(keys, dev_keys)?.device_key(&id)));
        }
        DeviceCommand::Provision { id, root } => {
            if !valid_device_id(&id) {
                return Err(Error::Config(latchkey_protocol::BadDeviceId.to_string()));
            }
            let store = store::open(db)?;
            let k = KeySet::load_shared(keys, dev_keys, store.as_ref())?;
            let root = RootKey::load(&root.root_key, dev_keys)?;
            let registered = store.device(&id)?.ok_or_else(|| {
                Error::Config(format!("no device {id:?}; add it with `device add`"))
            })?;
            let alg = match registered.command_alg {
                Some(name) => latchkey_server::keys::parse_alg(&name)?,
                None => k.device_command_alg(&id),
            };
            let mut out = serde_json::json!({
                "device": id,
                "command_alg": alg.name(),
                "root_key": root.public_jwk(),
                "command_keys": k.command_jwks()["keys"],
            });
            if alg == Algorithm::Hs256 {
                out["hmac_key"] = to_hex(&k.device_key(&id)).into();
                out["note"] = "HS256 device: its command tokens are signed with hmac_key, \
                               a secret derived for this device; keep the build private"
                    .into();
            } else {
                out["note"] = "public keys only: command tokens are signed by the command \
                               ring's key of command_alg, named by kid"
                    .into();
            }
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
    }
    Ok(())
}

/// Refuses an algorithm the command ring has no key for (HS256 needs none).
fn signable(keys: &KeySet, alg: Algorithm) -> Result<(), Error> {
    if alg == Algorithm::Hs256 || keys.command_signer(alg).is_some() {
        return Ok(());
    }
    Err(Error::Config(format!(
        "the command ring has no {alg} key; run `latchkey-server keys rotate --ring command --alg {alg}`"
    )))
}

/// The key file's keys, for a command that changes them: not the development keys
/// nor `$LATCHKEY_KEYS_JSON`, which cannot be written back.
/// The shared key set (key file's master secret, the store's rings), for a
/// command that changes the rings: not the development keys, which are fixed.
fn editable_keys(
    store: &dyn store::Store,
    keys: &std::path::Path,
    dev_keys: bool,
) -> Result<KeySet, Error> {
    if dev_keys {
        return Err(Error::Config(
            "the keys come from --dev-keys; changing them needs a key file (--keys)".into(),
        ));
    }
    KeySet::load_shared(keys, false, store)
}

fn keys_command(
    db: &Database,
    keys: &std::path::Path,
    dev_keys: bool,
    cmd: KeysCommand,
) -> Result<(), Error> {
    match cmd {
        KeysCommand::List => {
            let k = KeySet::load_shared(keys, dev_keys, store::open(db)?.as_ref())?;
            let created = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), rfc3339);
            for s in &k.session_keys {
                let when = created(k.session_created.get(s.kid()).copied());
                println!("{}\tsession\t{}\t{when}", s.kid(), s.algorithm());
            }
            for c in &k.command_keys {
                let when = created(Some(c.created));
                println!("{}\tcommand\t{}\t{when}", c.kid, c.algorithm());
            }
        }
        KeysCommand::Rotate { ring, alg } => {
            let store = store::open(db)?;
            let mut k = editable_keys(store.as_ref(), keys, dev_keys)?;
            let kid = k.rotate(ring.into(), alg.map(Algorithm::from))?;
            let new = k
                .stored_keys(&k.kek())?
                .into_iter()
                .find(|stored| stored.kid == kid)
                .ok_or_else(|| Error::Internal(format!("the new key {kid} is not in its ring")))?;
            store.add_ring_key(&new)?;
            println!("{kid}");
        }
        KeysCommand::Retire { ring, kid } => {
            let store = store::open(db)?;
            let mut k = editable_keys(store.as_ref(), keys, dev_keys)?;
            let ring: Ring = ring.into();
            // The ring's rules (not the last session key, nor a device's last
            // command key of its algorithm) are checked on the loaded set first.
            k.retire(ring, &kid)?;
            store.retire_ring_key(ring.name(), &kid)?;
            println!("retired {kid}");
        }
        KeysCommand::ExportPublic => {
            let k = KeySet::load_shared(keys, dev_keys, store::open(db)?.as_ref())?;
            println!(
                "{}",
                serde_json::to_string_pretty(&k.jwks()).unwrap_or_default()
            );
        }
        KeysCommand::RootInit { root, development } => {
            if dev_keys {
                return Err(Error::Config("--dev-keys has a fixed root key".into()));
            }
            let r = if development {
                let r = RootKey::development();
                r.save(&root.root_key)?;
                eprintln!("DEVELOPMENT ONLY root key written: never use it in production");
                r
            } else {
                RootKey::create(&root.root_key)?
            };
            println!("{}", r.kid());
        }
    }
    Ok(())
}

fn audit_list(db: &Database, filter: AuditFilter) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    for r in store::open(db)?.command_records(&filter)? {
        let command = match r.arg {
            Some(arg) => format!("{} {arg}", r.command),
            None => r.command,
        };
        let line = format!(
            "{}\t{}\t{}\t{command}\t{}\t{}\n",
            rfc3339(r.issued_at),
            r.username,
            r.device,
            r.jti,
            r.source
        );
        out.write_all(line.as_bytes())
            .map_err(|e| Error::Internal(format!("writing the list: {e}")))?;
    }
    Ok(())
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
fn rfc3339(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

// One parameter per CLI option of `token issue`.
#[allow(clippy::too_many_arguments)]
fn token_issue(
    db: &Database,
    keys: &std::path::Path,
    dev_keys: bool,
    user: &str,
    kind: TokenKind,
    device: Option<&str>,
    command: Option<&str>,
    arg: Option<u8>,
    ttl: Option<u64>,
    issued_at: Option<i64>,
) -> Result<(), Error> {
    let mut lifetimes = Lifetimes::default();
    if let Some(t) = ttl {
        let t = Duration::from_secs(t);
        match kind {
            TokenKind::Access => lifetimes.access = t,
            TokenKind::Refresh => lifetimes.refresh = t,
            TokenKind::Command => lifetimes.command = t,
        }
    }
    let store = store::open(db)?;
    let service = TokenService::new(
        &KeySet::load_shared(keys, dev_keys, store.as_ref())?,
        lifetimes,
    )?;
    let now = issued_at.unwrap_or_else(unix_now);
    let family = latchkey_server::keys::random_id()?;
    let issued = match kind {
        // A session of the user's, as a login starts one, so the server takes it.
        TokenKind::Access | TokenKind::Refresh => {
            let refresh = service.issue_refresh(user, &family, now)?;
            store.create_family(&family, user, &refresh.jti, refresh.exp)?;
            match kind {
                TokenKind::Access => service.issue_access(user, &family, false, now)?,
                _ => refresh,
            }
        }
        TokenKind::Command => {
            let device = device
                .ok_or_else(|| Error::Config("--device is required for command tokens".into()))?;
            let command = command
                .ok_or_else(|| Error::Config("--command is required for command tokens".into()))?;
            if command == TRUST {
                latchkey_server::tokens::grantable(latchkey_protocol::Command::Trust)?;
            }
            if !valid_device_id(device) || !COMMANDS.contains(&command) {
                return Err(Error::Config("bad --device or --command".into()));
            }
            let command = latchkey_protocol::Command::with_argument(command, arg)
                .map_err(|_| Error::Config("--arg is required for led and only for led".into()))?;
            let issued =
                issue_command_token(store.as_ref(), &service, user, device, command, now, "cli")?;
            Issued {
                token: issued.token,
                jti: issued.jti,
                exp: issued.exp,
            }
        }
    };
    println!("{}", issued.token);
    Ok(())
}

/// Removes JSON whitespace outside strings (the input is valid JSON).
fn compact_json(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
        }
    }
    out
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// How many keys `token verify --jwks-file` takes: identity providers publish two
/// or three at a time (the current key and the next or the last).
const JWKS_CAPACITY: usize = 16;

/// The key sources of `token verify`.
enum VerifyKeys {
    One(Box<Key>),
    Set(Box<latchkey_core::KeySet<JWKS_CAPACITY>>),
}

/// The rule behind a refused key, for the usage message.
fn key_rule(alg: Algorithm, e: latchkey_core::Error) -> String {
    use latchkey_core::Error as E;
    let rule = match (e, alg.name().as_bytes()[0]) {
        (E::InvalidKey, b'R' | b'P') => {
            "RSA keys need e = 65537 and an odd modulus of 2048 to 4096 bits"
        }
        (E::InvalidKey, b'E') if alg == Algorithm::EdDsa => {
            "an Ed25519 key must be a canonical point not of small order"
        }
        (E::InvalidKey, b'E') => "an EC key must be a point on the algorithm's curve",
        (E::KeyTooShort, _) => "an HMAC secret must be at least as long as the hash",
        (E::KeyMismatch, _) => "the key's type and curve, and a JWK's alg, must be those of --alg",
        (E::PrivateKey, _) => "give the public key",
        (E::DuplicateKey, _) => "each kid once",
        (E::KeySetFull, _) => "at most 16 signature keys",
        _ => "",
    };
    let mut text = format!("{}: {e}", e.code());
    if !rule.is_empty() {
        text.push_str(" (");
        text.push_str(rule);
        text.push(')');
    }
    text
}

fn read_file(flag: &str, path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{flag} {}: {e}", path.display()))
}

/// The key or keys the arguments name, or the usage message.
fn verify_keys(args: &VerifyArgs) -> Result<VerifyKeys, String> {
    let alg = args.alg;
    let refused = |what: &str, e| format!("{what}: {}", key_rule(alg, e));
    if let Some(hex) = &args.key_hex {
        let bytes = from_hex(hex).map_err(|e| format!("--key-hex: {e}"))?;
        let key = if alg.is_hmac() {
            Key::new(alg, &bytes)
        } else {
            Key::from_der(alg, &bytes)
        };
        return key
            .map(|k| VerifyKeys::One(Box::new(k)))
            .map_err(|e| refused("--key-hex", e));
    }
    if let Some(path) = &args.key_file {
        let bytes = read_file("--key-file", path)?;
        let what = format!("--key-file {}", path.display());
        if alg.is_hmac() {
            return Key::new(alg, &bytes)
                .map(|k| VerifyKeys::One(Box::new(k)))
                .map_err(|e| refused(&what, e));
        }
        let start = bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(0);
        let text = &bytes[start..];
        let key = if text.starts_with(b"{") {
            Key::from_jwk(text, Some(alg))
        } else if text.starts_with(b"-----BEGIN") {
            Key::from_pem(alg, text)
        } else {
            return Err(format!(
                "{what}: neither a PEM public key (-----BEGIN) nor a JWK ({{)"
            ));
        };
        return key
            .map(|k| VerifyKeys::One(Box::new(k)))
            .map_err(|e| refused(&what, e));
    }
    if let Some(path) = &args.jwks_file {
        let bytes = read_file("--jwks-file", path)?;
        let what = format!("--jwks-file {}", path.display());
        let set = latchkey_core::KeySet::<JWKS_CAPACITY>::from_jwks(&bytes, Some(alg))
            .map_err(|e| refused(&what, e))?;
        if set.is_empty() {
            return Err(format!("{what}: no signature key (use \"sig\") in the set"));
        }
        return Ok(VerifyKeys::Set(Box::new(set)));
    }
    Err("one of --key-hex, --key-file or --jwks-file is required".into())
}

fn token_verify(args: &VerifyArgs) -> ExitCode {
    let keys = match verify_keys(args) {
        Ok(keys) => keys,
        Err(message) => return usage_error(&message),
    };
    let token: Vec<u8> = if args.token == "-" {
        let mut buf = Vec::new();
        if let Err(e) = std::io::stdin().lock().read_to_end(&mut buf) {
            return usage_error(&format!("reading stdin: {e}"));
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        buf
    } else {
        args.token.clone().into_bytes()
    };
    let required = args.require.iter().fold(ClaimSet::NONE, |set, c| {
        set | match c {
            ClaimArg::Exp => ClaimSet::EXP,
            ClaimArg::Nbf => ClaimSet::NBF,
            ClaimArg::Iat => ClaimSet::IAT,
            ClaimArg::Iss => ClaimSet::ISS,
            ClaimArg::Aud => ClaimSet::AUD,
            ClaimArg::Sub => ClaimSet::SUB,
            ClaimArg::Jti => ClaimSet::JTI,
        }
    });
    let validation = Validation {
        leeway: args.leeway,
        required,
        issuer: args.iss.as_deref(),
        audience: args.aud.as_deref(),
        typ: None,
        ..Validation::new()
    };
    let now = args
        .now
        .unwrap_or_else(|| u64::try_from(unix_now()).unwrap_or(0));
    match keys {
        VerifyKeys::One(key) => finish(&Verifier::new(*key, validation), &token, now),
        VerifyKeys::Set(set) => finish(&Verifier::with_keys(&*set, validation), &token, now),
    }
}

/// Verifies `token` and prints its claims (exit 0) or the refusal (exit 1).
fn finish<K: latchkey_core::KeySource>(
    verifier: &Verifier<'_, K>,
    token: &[u8],
    now: u64,
) -> ExitCode {
    let mut scratch = vec![
        0u8;
        token
            .len()
            .clamp(64, latchkey_server::tokens::MAX_TOKEN_LEN)
    ];
    match verifier.verify(token, now, &mut scratch) {
        Ok(claims) => {
            let mut out = std::io::stdout().lock();
            let mut line = compact_json(claims.payload());
            line.push(b'\n');
            if out.write_all(&line).and_then(|()| out.flush()).is_err() {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("invalid: {}: {e}", e.code());
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_json_keeps_strings_intact() {
        let src = br#"{ "a" : "x y\" }" ,
            "b":[1, 2] }"#;
        assert_eq!(compact_json(src), br#"{"a":"x y\" }","b":[1,2]}"#.to_vec());
    }

    #[test]
    fn patterns() {
        assert!(valid_pattern("*"));
        assert!(valid_pattern("door-*"));
        assert!(valid_pattern("door-1"));
        assert!(!valid_pattern("door 1"));
        assert!(!valid_pattern("**"));
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

//! The `token verify` contract: exit codes 0/1/2, claims on stdout, one
//! `invalid: <reason-code>: <text>` line on stderr.

use latchkey_core::{Algorithm, HeaderParams, Key};
use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey-server");
const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn sign(alg: Algorithm, secret: &[u8], payload: &str) -> String {
    let key = Key::new(alg, secret).unwrap();
    let mut out = [0u8; 2048];
    key.sign(
        &HeaderParams {
            typ: Some("JWT"),
            kid: None,
        },
        payload.as_bytes(),
        &mut out,
    )
    .unwrap()
    .to_owned()
}

fn secret() -> Vec<u8> {
    (0u8..32).collect()
}

fn verify(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(["token", "verify"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn base(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["--alg", "HS256", "--key-hex", KEY_HEX, "--now", "1000"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    v.extend(extra.iter().map(|s| (*s).to_owned()));
    v
}

fn run(extra: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let args = base(extra);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    verify(&refs, stdin)
}

fn assert_invalid(result: (i32, String, String), code: &str) {
    let (status, out, err) = result;
    assert_eq!(status, 1, "stderr: {err}");
    assert_eq!(out, "");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.starts_with(&format!("invalid: {code}: ")), "{err:?}");
    assert!(
        err.ends_with('\n') && err.len() > format!("invalid: {code}: ").len() + 1,
        "{err:?}"
    );
}

#[test]
fn valid_token_prints_its_claims_as_one_json_object() {
    let t = sign(
        Algorithm::Hs256,
        &secret(),
        r#"{ "sub" : "alice", "exp": 2000,
        "note": "a b" }"#,
    );
    let (code, out, err) = run(&[&t], b"");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "{\"sub\":\"alice\",\"exp\":2000,\"note\":\"a b\"}\n");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["sub"], "alice");
}

#[test]
fn stdin_dash_removes_exactly_one_trailing_newline() {
    let t = sign(Algorithm::Hs256, &secret(), r#"{"sub":"a"}"#);
    assert_eq!(run(&["-"], format!("{t}\n").as_bytes()).0, 0);
    assert_eq!(run(&["-"], t.as_bytes()).0, 0);
    assert_invalid(run(&["-"], format!("{t}\n\n").as_bytes()), "bad-base64");
    assert_invalid(run(&["-"], format!(" {t}\n").as_bytes()), "bad-base64");
}

#[test]
fn rejections_have_reason_codes() {
    let s = secret();
    assert_invalid(
        run(&[&sign(Algorithm::Hs256, &s, r#"{"exp":999}"#)], b""),
        "expired",
    );
    assert_invalid(
        run(&[&sign(Algorithm::Hs256, &s, r#"{"nbf":1001}"#)], b""),
        "not-yet-valid",
    );
    assert_invalid(
        run(&[&sign(Algorithm::Hs256, &[9; 32], r#"{"sub":"a"}"#)], b""),
        "bad-signature",
    );
    // --alg is the only algorithm accepted.
    assert_invalid(
        run(&[&sign(Algorithm::Hs512, &[0; 64], r#"{"sub":"a"}"#)], b""),
        "wrong-alg",
    );
    // aud present without --aud: rejected (RFC 7519 4.1.3); with --aud: checked.
    let aud = sign(Algorithm::Hs256, &s, r#"{"aud":"door-1"}"#);
    assert_invalid(run(&[&aud], b""), "wrong-audience");
    assert_eq!(run(&["--aud", "door-1", &aud], b"").0, 0);
    assert_invalid(run(&["--aud", "door-2", &aud], b""), "wrong-audience");
    let iss = sign(Algorithm::Hs256, &s, r#"{"iss":"latchkey"}"#);
    assert_eq!(run(&["--iss", "latchkey", &iss], b"").0, 0);
    assert_invalid(run(&["--iss", "other", &iss], b""), "wrong-issuer");
    // Default: no claim required; --require adds them.
    let bare = sign(Algorithm::Hs256, &s, "{}");
    assert_eq!(run(&[&bare], b"").0, 0);
    assert_invalid(run(&["--require", "exp,jti", &bare], b""), "missing-claim");
    // Default leeway 0; --leeway widens it.
    let just = sign(Algorithm::Hs256, &s, r#"{"exp":1000}"#);
    assert_invalid(run(&[&just], b""), "expired");
    assert_eq!(run(&["--leeway", "5", &just], b"").0, 0);
    assert_invalid(run(&["x.y"], b""), "malformed");
    let none = "eyJhbGciOiJub25lIn0.e30.c2ln";
    assert_invalid(run(&[none], b""), "alg-none");
}

#[test]
fn key_file_is_raw_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.bin");
    std::fs::write(&path, secret()).unwrap();
    let t = sign(Algorithm::Hs256, &secret(), r#"{"sub":"a"}"#);
    let (code, out, _) = verify(
        &[
            "--alg",
            "HS256",
            "--key-file",
            path.to_str().unwrap(),
            "--now",
            "1",
            &t,
        ],
        b"",
    );
    assert_eq!((code, out.as_str()), (0, "{\"sub\":\"a\"}\n"));
}

#[test]
fn usage_errors_exit_2() {
    let t = sign(Algorithm::Hs256, &secret(), "{}");
    for args in [
        vec!["--key-hex", KEY_HEX, &t],                   // no --alg
        vec!["--alg", "HS256", &t],                       // no key
        vec!["--alg", "RS256", "--key-hex", KEY_HEX, &t], // unsupported alg
        vec!["--alg", "none", "--key-hex", KEY_HEX, &t],  // none
        vec![
            "--alg",
            "HS256",
            "--key-hex",
            KEY_HEX,
            "--key-file",
            "k",
            &t,
        ], // both keys
        vec!["--alg", "HS256", "--key-hex", "zz", &t],    // bad hex
        vec!["--alg", "HS256", "--key-hex", "0011", &t],  // key too short
        vec!["--alg", "HS256", "--key-hex", KEY_HEX, "--now", "soon", &t],
        vec![
            "--alg",
            "HS256",
            "--key-hex",
            KEY_HEX,
            "--require",
            "foo",
            &t,
        ],
        vec!["--alg", "HS256", "--key-hex", KEY_HEX], // no token
        vec!["--alg", "HS256", "--key-file", "/nonexistent/key", &t],
    ] {
        let (code, out, err) = verify(&args, b"");
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(!err.is_empty());
    }
}

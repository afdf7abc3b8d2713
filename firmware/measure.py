#!/usr/bin/env python3
"""Instructions and stack per request line of each firmware build, under QEMU.

Usage: firmware/measure.py [--profile firmware|firmware-small] [BUILD ...]
BUILD: eddsa (the default firmware), es256, rs256, hs256 (all four when none given).

For each build it makes a server state in a temporary directory, builds the firmware
provisioned from it, and sends the device request lines whose tokens the real server
CLI (`latchkey-server`) issued:
- eddsa and hs256 use the DEVELOPMENT ONLY keys (`--dev-keys`; the eddsa ELF is the
  default build, `provisioning/dev-1.json`). The development command ring holds only
  the EdDSA key `dev-cmd-1`, so
- es256 and rs256 use a key file of their own: `keys rotate --ring command --alg
  ES256|RS256`, `keys root-init`, then `device provision dev-1` as the build's
  LATCHKEY_PROVISION_FILE (the build then holds a random EdDSA key and the new key).
Each build's device is `dev-1`, registered with `device add --command-alg` of that
algorithm; every token carries the next `seq` the server hands out.

Instructions: QEMU runs one instruction per translation block (`-singlestep`) and logs
every block it executes (`-d exec,nochain`, read here through a pipe, never stored),
so the log lines between the marker functions `insn_mark_line_begin` and
`insn_mark_line_end` (src/main.rs, in every build) are the guest instructions of one
line's decision: parse, verify, claims, replay window, saving the counters, running
the command. SysTick interrupts (every 0.5 s of host time) that land inside a window
are counted too: a few dozen instructions each.
Stack: the `stack peak U/S B` each answer logs (defmt, decoded with `defmt-print`): the
most the stack has ever used since boot (painted stack).

Standard library only; needs qemu-system-arm, llvm-nm (or arm-none-eabi-nm),
defmt-print and cargo (it builds latchkey-server and the harness's `latchkey-qemu`,
the project's one QEMU command line). The ELFs stay in target/measure/.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
TRIPLE = "thumbv7m-none-eabi"
DEVICE = "dev-1"

# build -> (cargo feature arguments, command-token algorithm, dev keys?)
BUILDS = {
    "eddsa": ([], "EdDSA", True),
    "es256": (["--features", "es256"], "ES256", False),
    "rs256": (["--features", "rs256"], "RS256", False),
    "hs256": (["--no-default-features", "--features", "hs256"], "HS256", True),
}


def cargo(*args, env=None):
    subprocess.run(["cargo", *args], cwd=ROOT, check=True, env=env)


class Server:
    """The server CLI on a state of its own (SQLite file, key files) in `dir`."""

    def __init__(self, binary, dir, dev_keys):
        self.binary, self.dir = binary, dir
        self.common = ["--db", os.path.join(dir, "latchkey.db")]
        self.common += ["--dev-keys"] if dev_keys else ["--keys", os.path.join(dir, "keys.json")]
        self.root = [] if dev_keys else ["--root-key", os.path.join(dir, "root-key.json")]

    def run(self, *args):
        out = subprocess.run([self.binary, *args[:2], *self.common, *args[2:]],
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"latchkey-server {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout.strip()

    def command_token(self, command, device=DEVICE):
        # The longest lifetime the device takes (300 s): under `-singlestep` an ES256
        # device needs minutes, and the replayed token must reach the replay check.
        return self.run("token", "issue", "--user", "alice", "--kind", "command",
                        "--device", device, "--command", command, "--ttl", "300")


def provision(server, alg, dev_keys):
    """Registers dev-1 (and dev-2, for a token to another device) with `alg`; returns
    the provisioning file for the build (None: the default, provisioning/dev-1.json)."""
    if not dev_keys:
        server.run("keys", "rotate", "--ring", "command", "--alg", alg)
        server.run("keys", "root-init", *server.root)
    for device in (DEVICE, "dev-2"):
        server.run("device", "add", device, "--command-alg", alg)
    if dev_keys:
        return None
    path = os.path.join(server.dir, "provision.json")
    with open(path, "w") as f:
        f.write(server.run("device", "provision", DEVICE, *server.root))
    return path


def build(name, profile, provision_file):
    features, _, _ = BUILDS[name]
    env = dict(os.environ)
    env.pop("LATCHKEY_PROVISION_FILE", None)
    if provision_file:
        env["LATCHKEY_PROVISION_FILE"] = provision_file
    cargo("build", "--quiet", "-p", "latchkey-firmware", "--target", TRIPLE, "--profile", profile,
          *features, env=env)
    out = os.path.join(TARGET_DIR, "measure")
    os.makedirs(out, exist_ok=True)
    elf = os.path.join(out, f"{profile}.{name}.elf")
    shutil.copyfile(os.path.join(TARGET_DIR, TRIPLE, profile, "latchkey-firmware"), elf)
    return elf


def markers(elf):
    nm = shutil.which("llvm-nm") or shutil.which("arm-none-eabi-nm")
    if not nm:
        sys.exit("no llvm-nm or arm-none-eabi-nm")
    out = subprocess.run([nm, "-C", elf], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        m = re.match(r"([0-9a-f]+) [tT] .*::(insn_mark_line_\w+?)(::h[0-9a-f]+)?$", line)
        if m:
            found[m.group(2)] = int(m.group(1), 16) & ~1
    if sorted(found) != ["insn_mark_line_begin", "insn_mark_line_end"]:
        sys.exit(f"markers missing in {elf}: {sorted(found)}")
    return f"{found['insn_mark_line_begin']:08x}", f"{found['insn_mark_line_end']:08x}"


def count_windows(fifo, begin, end, counts, events):
    """Reads QEMU's log from `fifo`; appends the instruction count of each window to
    `counts` and every other line (`-d int,guest_errors`: exceptions, faults, bad
    accesses) to `events`."""
    count, inside = 0, False
    with open(fifo, "rb") as log:
        for raw in log:
            # `Trace N: HOSTPTR [CS_BASE/PC/FLAGS/CFLAGS] ...`: the PC is the second field.
            i = raw.find(b"[")
            if i < 0 or not raw.startswith(b"Trace"):
                events.append(raw.decode(errors="replace").rstrip())
                continue
            pc = raw[i + 10:i + 18].decode()
            if pc == begin:
                inside, count = True, 0
            elif pc == end and inside:
                counts.append(count)
                inside = False
            elif inside:
                count += 1


def requests(server):
    """The request lines, named, in the order sent (tokens from the server CLI)."""
    first = server.command_token("open")
    status = server.command_token("status")
    sig = server.command_token("open")
    head, sig_b64 = sig.rsplit(".", 1)
    middle = len(sig_b64) // 2
    flipped = "A" if sig_b64[middle] != "A" else "B"
    forged = f"{head}.{sig_b64[:middle]}{flipped}{sig_b64[middle + 1:]}"
    other = server.command_token("open", device="dev-2")
    lines = [
        ("valid `open`", f"1 open {first}"),
        ("valid `status`", f"2 status {status}"),
        ("bad signature", f"3 open {forged}"),
        ("token for `dev-2`", f"4 open {other}"),  # HS256: dev-2's key
        ("replayed `open`", f"5 open {first}"),
        ("`hello world`", "hello world"),
    ]
    trust = server.run("device", "trust", DEVICE, "--retire", "x", *server.root)
    lines.append(("`trust` (retire x)", f"7 trust {trust}"))
    return lines


def run_device(qemu, elf, lines):
    """Runs `elf`, sends `lines`; returns (answers, instruction counts, defmt log,
    QEMU's other log lines, latchkey-qemu's exit status)."""
    begin, end = markers(elf)
    counts, log, events = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "exec.fifo")
        os.mkfifo(fifo)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        stderr = open(os.path.join(tmp, "stderr.txt"), "w+")
        device = subprocess.Popen(
            [qemu, "--port", str(port), "--wait", "--defmt", "--state-dir", tmp, elf,
             "-singlestep", "-d", "exec,nochain,int,guest_errors", "-D", fifo],
            stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True)
        counter = threading.Thread(target=count_windows, args=(fifo, begin, end, counts, events))
        counter.start()
        reader = threading.Thread(target=lambda: log.extend(device.stdout), daemon=True)
        reader.start()
        try:
            deadline = time.time() + 30
            while True:
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=600)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.2)
            f = s.makefile("rb")
            answers = []
            for _, line in lines:
                try:
                    s.sendall(line.encode() + b"\n")
                    answer = f.readline().decode().strip()
                except OSError as e:
                    answer = ""
                if not answer:
                    answers.append("(no answer: the device stopped)")
                    break
                # The next line goes out after this answer, which the device writes
                # after the window closes: no UART interrupt lands inside a window.
                answers.append(answer)
            deadline = time.time() + 30
            while (sum("stack" in entry for entry in log) < len(answers) + 1
                   and device.poll() is None and time.time() < deadline):
                time.sleep(0.2)
            s.close()
        finally:
            status = device.poll()
            # latchkey-qemu, QEMU and defmt-print: the session started above.
            if status is None:
                os.killpg(device.pid, signal.SIGTERM)
                device.wait(timeout=30)
            counter.join(timeout=60)
            stderr.seek(0)
            if status is not None:
                events += [f"stderr: {e.rstrip()}" for e in stderr if e.strip()]
            stderr.close()
    return answers, counts, log, events, status


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="firmware", choices=["firmware", "firmware-small"])
    parser.add_argument("builds", nargs="*", metavar="BUILD", help=", ".join(BUILDS))
    args = parser.parse_args()
    builds = args.builds or list(BUILDS)
    if any(b not in BUILDS for b in builds):
        parser.error(f"builds: {', '.join(BUILDS)}")
    cargo("build", "--quiet", "-p", "latchkey-server", "-p", "latchkey-harness",
          "--bin", "latchkey-server", "--bin", "latchkey-qemu")
    server_bin = os.path.join(TARGET_DIR, "debug", "latchkey-server")
    qemu = os.path.join(TARGET_DIR, "debug", "latchkey-qemu")
    stack_re = re.compile(r"stack (?:peak )?(\d+)/(\d+) B")
    for name in builds:
        _, alg, dev_keys = BUILDS[name]
        with tempfile.TemporaryDirectory() as state:
            server = Server(server_bin, state, dev_keys)
            elf = build(name, args.profile, provision(server, alg, dev_keys))
            lines = requests(server)
            answers, counts, log, events, status = run_device(qemu, elf, lines)
        stacks = [m.groups() for m in map(stack_re.search, log) if m]
        keys = "development keys" if dev_keys else "a key file of its own"
        print(f"\n{name} ({alg} command tokens, {keys}), --profile {args.profile}: {elf}")
        if stacks:
            print(f"boot: stack peak {stacks[0][0]} of {stacks[0][1]} B")
        print("| request | line B | instructions | stack peak B | answer |")
        print("|---|---:|---:|---:|---|")
        for i, (what, line) in enumerate(lines):
            n = f"{counts[i]:,}" if i < len(counts) else "n/a"
            peak = f"{int(stacks[i + 1][0]):,}" if i + 1 < len(stacks) else "n/a"
            answer = answers[i] if i < len(answers) else "(not sent)"
            print(f"| {what} | {len(line)} | {n} | {peak} | `{answer}` |")
        if status is not None:
            # Exit codes: firmware/README.md, "Exit status" (102: HardFault).
            print(f"the device stopped: latchkey-qemu exited with {status}")
        # SysTick, the UART RX interrupt, semihosting calls (the defmt log, the flash
        # file), their returns, and QEMU's notes on them.
        routine = ("Taking exception 5 [IRQ]", "Taking exception 8 [QEMU v7M exception exit]",
                   "Taking exception 16 [Semihosting call]", "...handling as semihosting",
                   "Stopped execution of TB chain", "...loaded new PC", "Loaded reset SP",
                   "...taking pending", "...loading from element", "Exception return",
                   "...successful exception return")
        unusual = [e for e in events if e and not any(r in e for r in routine)]
        if unusual:
            print(f"QEMU -d int,guest_errors, the last of {len(unusual)} unusual lines:",
                  *unusual[-12:], sep="\n  ")


if __name__ == "__main__":
    main()

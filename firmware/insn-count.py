#!/usr/bin/env python3
"""Counts emulated Cortex-M3 instructions per request line under QEMU.

Usage: firmware/insn-count.py ELF [PORT]
ELF must be built with `--features insn-count` and the DEVELOPMENT ONLY key of
`dev-1` (the default). QEMU runs one instruction per translation block
(`-singlestep`) and logs every block it executes (`-d exec,nochain`), so the
number of log lines between two marker functions is the number of guest
instructions between them (interrupts that land in between are counted too).
Standard library only; needs qemu-system-arm, llvm-nm (or arm-none-eabi-nm) and
cargo (it builds the harness's `latchkey-qemu`, the project's one QEMU command line).
"""
import base64, hashlib, hmac, json, os, re, shutil, socket, subprocess, sys, tempfile, time

KEY = bytes.fromhex("2b21beaf733f9f93849d868ae626dba5896e6456dd29da598061bf135517cd01")  # DEVELOPMENT ONLY (dev-1)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(scope="open", key=KEY, **over):
    now = int(time.time())
    claims = {"iss": "latchkey", "sub": "alice", "aud": "dev-1", "scope": scope, "iat": now,
              "nbf": now, "exp": now + 60, "jti": b64(os.urandom(16))}
    claims.update(over)
    si = b64(json.dumps({"alg": "HS256", "typ": "lk-cmd+jwt"}, separators=(",", ":")).encode()) + "." + \
        b64(json.dumps(claims, separators=(",", ":")).encode())
    return si + "." + b64(hmac.new(key, si.encode(), hashlib.sha256).digest())


def qemu_program():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run(["cargo", "build", "--quiet", "-p", "latchkey-harness", "--bin", "latchkey-qemu"],
                   cwd=root, check=True)
    return os.path.join(root, "target", "debug", "latchkey-qemu")


def markers(elf):
    nm = shutil.which("llvm-nm") or shutil.which("arm-none-eabi-nm")
    out = subprocess.run([nm, "-C", elf], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        m = re.match(r"([0-9a-f]+) [tT] .*::(insn_mark_\w+?)(::h[0-9a-f]+)?$", line)
        if m:
            found[m.group(2)] = int(m.group(1), 16) & ~1
    return found


def main():
    elf = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 4470
    marks = markers(elf)
    need = ["insn_mark_line_begin", "insn_mark_line_end", "insn_mark_hmac_begin", "insn_mark_hmac_end"]
    if any(n not in marks for n in need):
        sys.exit(f"markers missing in {elf} (build with --features insn-count): {sorted(marks)}")
    # Request lines as latchkey-protocol writes them: `<id> <command> [<arg>] <token>`.
    requests = [
        ("valid open (OK)", f"1 open {token()}"),
        ("valid status (OK)", f"2 status {token('status')}"),
        ("bad signature", f"3 open {token(key=b'x' * 32)}"),
        ("wrong audience", f"4 open {token(aud='dev-2')}"),
        ("garbage", "hello world"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "exec.log")
        qemu = subprocess.Popen(
            # The project's one QEMU command line, through the harness's program.
            [qemu_program(), "--port", str(port), "--wait", elf,
             "-singlestep", "-d", "exec,nochain", "-D", log],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 20
            while True:
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=60)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.2)
            f = s.makefile("rb")
            answers = []
            for _, line in requests:
                s.sendall(line.encode() + b"\n")
                answers.append(f.readline().decode().strip())
                time.sleep(1)  # no RX interrupt inside the bare-HMAC window that follows
            time.sleep(1)  # let the bare HMAC after the last line finish
            s.close()
        finally:
            qemu.terminate()
            qemu.wait(timeout=20)
        pc_re = re.compile(r"\[[0-9a-f]+/([0-9a-f]+)/")
        line_counts, hmac_counts, count, inside = [], [], 0, None
        with open(log, errors="replace") as lf:
            for text in lf:
                if not text.startswith("Trace"):
                    continue
                m = pc_re.search(text)
                if not m:
                    continue
                pc = int(m.group(1), 16)
                if pc == marks["insn_mark_line_begin"]:
                    inside, count = "line", 0
                elif pc == marks["insn_mark_hmac_begin"]:
                    inside, count = "hmac", 0
                elif pc == marks["insn_mark_line_end"] and inside == "line":
                    line_counts.append(count)
                    inside = None
                elif pc == marks["insn_mark_hmac_end"] and inside == "hmac":
                    hmac_counts.append(count)
                    inside = None
                elif inside:
                    count += 1
    for i, (name, line) in enumerate(requests):
        tok = line.rsplit(" ", 1)[-1]
        si = len(tok.rsplit(".", 1)[0]) if tok.count(".") == 2 else 0
        lc = line_counts[i] if i < len(line_counts) else None
        hc = hmac_counts[i] if i < len(hmac_counts) else None
        print(f"{name:18} line {len(line):4} B, signing input {si:4} B: decision {lc} insns, "
              f"bare HMAC-SHA256 {hc} insns -> {answers[i]}")


if __name__ == "__main__":
    main()

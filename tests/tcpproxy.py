#!/usr/bin/env python3
"""tcpproxy.py - a TCP proxy on 127.0.0.1 for fault-injection tests: it stands between
sluice and a database server and breaks the connection on purpose.

  tcpproxy.py PORTFILE TARGET_PORT [--seed N] [--cut P] [--cut-commit P]
              [--hold PATTERN [--after PATTERN2] --hold-ms MS --arm FILE --held FILE]
              [--cut-at PATTERN --arm FILE]

Listens on a random free port of 127.0.0.1 and writes it to PORTFILE (when listening).
Every connection is forwarded to 127.0.0.1:TARGET_PORT, chunk by chunk, except:
  --cut P         each chunk (either way) cuts the connection (both sides) with probability P
  --cut-commit P  a client chunk holding COMMIT is, with probability P, cut either before
                  it reaches the server (the transaction rolls back) or right after (it
                  commits, the answer is lost): half each
  --hold PATTERN  while FILE (--arm) exists: the next client chunk holding PATTERN is held
                  for MS ms (FILE is removed, --held FILE is created while holding), then
                  forwarded even if the client has gone meanwhile (a killed client's
                  COMMIT reaching the server late); the server side stays open until then.
                  --after: only a chunk holding PATTERN at or after one holding PATTERN2
                  on the same connection (e.g. the COMMIT after the offsets statement)
  --cut-at PATTERN  while FILE (--arm) exists: the next client chunk holding PATTERN cuts
                  the connection before it reaches the server (FILE is removed)
Prints one line per cut to stderr ("cut before COMMIT", ...) and counts them in
PORTFILE.cuts (one line each).  Stop it with SIGTERM (by PID).  Loopback only.
"""
import os
import random
import socket
import sys
import threading
import time

args = sys.argv[1:]
if len(args) < 2:
    sys.exit(__doc__)
portfile, target = args[0], int(args[1])
opts = {"--seed": None, "--cut": "0", "--cut-commit": "0", "--hold": None, "--hold-ms": "0",
        "--arm": None, "--held": None, "--after": None, "--cut-at": None}
i = 2
while i < len(args):
    if args[i] not in opts or i + 1 >= len(args):
        sys.exit("tcpproxy: unknown or incomplete option %s" % args[i])
    opts[args[i]] = args[i + 1]
    i += 2
rng = random.Random(int(opts["--seed"]) if opts["--seed"] else None)
p_cut = float(opts["--cut"])
p_commit = float(opts["--cut-commit"])
hold = opts["--hold"].encode() if opts["--hold"] else None
hold_s = int(opts["--hold-ms"]) / 1000.0
after = opts["--after"].encode() if opts["--after"] else None
cut_at = opts["--cut-at"].encode() if opts["--cut-at"] else None


def disarm():
    """True once per --arm file: whoever removes it acts."""
    try:
        os.unlink(opts["--arm"])
        return True
    except (OSError, TypeError):
        return False
lock = threading.Lock()


def note(what):
    with lock:
        sys.stderr.write("tcpproxy: %s\n" % what)
        sys.stderr.flush()
        with open(portfile + ".cuts", "a") as f:
            f.write(what + "\n")


def roll(p):
    with lock:
        return p > 0 and rng.random() < p


def close(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass


def to_server(c, s, state):
    """Client -> server, with the cuts and the hold."""
    seen = after is None
    try:
        while True:
            data = c.recv(65536)
            if not data:
                break
            if after and after in data:
                seen = True
            if cut_at and cut_at in data and disarm():
                note("cut at %s" % cut_at.decode())
                state["cut"] = True
                close(c, s)
                return
            if hold and seen and hold in data and opts["--arm"] and os.path.exists(opts["--arm"]):
                try:
                    os.unlink(opts["--arm"])
                except OSError:
                    pass
                open(opts["--held"], "w").close()
                time.sleep(hold_s)
                s.sendall(data)
                os.unlink(opts["--held"])
                note("held %s for %d ms" % (hold.decode(), hold_s * 1000))
                continue
            if b"COMMIT" in data and roll(p_commit):
                if roll(0.5):
                    note("cut before COMMIT")
                else:
                    s.sendall(data)
                    time.sleep(0.05)   # the server has it: commits, the answer is lost
                    note("cut after COMMIT")
                state["cut"] = True
                close(c, s)
                return
            if roll(p_cut):
                note("cut (to server)")
                state["cut"] = True
                close(c, s)
                return
            s.sendall(data)
            if after and hold and hold in data and after not in data:
                seen = False   # the next PATTERN needs a PATTERN2 again
    except OSError:
        pass
    # the client is gone (or closed): let the server see the end, after what was held
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def to_client(c, s, state):
    """Server -> client."""
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            if roll(p_cut):
                note("cut (to client)")
                state["cut"] = True
                close(c, s)
                return
            try:
                c.sendall(data)
            except OSError:
                pass   # keep reading the server: a held chunk may still be on its way
    except OSError:
        pass
    close(c)


def serve(c):
    try:
        s = socket.create_connection(("127.0.0.1", target))
    except OSError:
        close(c)
        return
    for x in (c, s):
        x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    state = {"cut": False}
    t1 = threading.Thread(target=to_server, args=(c, s, state), daemon=True)
    t2 = threading.Thread(target=to_client, args=(c, s, state), daemon=True)
    t1.start()
    t2.start()
    t1.join()
    t2.join()
    close(c, s)


def main():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, portfile)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()

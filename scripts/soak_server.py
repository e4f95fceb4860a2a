#!/usr/bin/env python3
"""A faulty static file server on 127.0.0.1 for scripts/soak.sh.

usage: soak_server.py ROOT PORTFILE LOGFILE SECONDS SEED

Serves ROOT at /c<ID>/<path> (the client ID lets the soak tie each fault to the fetch
that met it). Each GET draws one fault at random: none, truncate (full Content-Length,
half the body, close), eof (no Content-Length, half the body, close), reset (RST
before any answer), reset-mid (RST halfway through the body), 500, 503, slow (the body
trickled over ~2 s), stall (half the body, then silence for 6 s, then close), corrupt
(one byte flipped, correct length), html200 (an HTML page instead of the file),
html404. Every draw is logged as a JSON line. The server stops by itself after SECONDS.
"""
import http.server, json, os, random, socket, sys, threading, time

root, portfile, logfile, seconds, seed = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
rng = random.Random(seed)
lock = threading.Lock()
log = open(logfile, "a", buffering=1)
FAULTS = [("none", 46), ("truncate", 8), ("eof", 4), ("reset", 7), ("reset-mid", 5), ("500", 7), ("503", 5),
          ("slow", 7), ("stall", 3), ("corrupt", 3), ("html200", 2), ("html404", 3)]
PAGE = b"<html><body><h1>Service Unavailable</h1></body></html>\n"


def draw():
    with lock:
        return rng.choices([f for f, _ in FAULTS], [w for _, w in FAULTS])[0]


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def head(self, code, length=None, ctype="application/octet-stream"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
        self.end_headers()

    def rst(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.connection.close()
        self.close_connection = True

    def do_GET(self):
        parts = self.path.split("?")[0].split("/", 2)
        if len(parts) < 3 or not parts[1].startswith("c"):
            return self.send_error(400)
        client, rel = parts[1][1:], parts[2]
        path = os.path.realpath(os.path.join(root, rel))
        if not path.startswith(os.path.realpath(root) + os.sep) or not os.path.isfile(path):
            self.head(404, 0)
            return
        body = open(path, "rb").read()
        fault = draw()
        log.write(json.dumps({"client": client, "path": rel, "fault": fault}) + "\n")
        half = len(body) // 2
        if fault == "none":
            self.head(200, len(body)); self.wfile.write(body)
        elif fault == "truncate":
            self.head(200, len(body)); self.wfile.write(body[:half]); self.wfile.flush(); self.rst()
        elif fault == "eof":
            self.head(200, None); self.wfile.write(body[:half]); self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR); self.close_connection = True
        elif fault == "reset":
            self.rst()
        elif fault == "reset-mid":
            self.head(200, len(body)); self.wfile.write(body[:half]); self.wfile.flush(); self.rst()
        elif fault in ("500", "503"):
            self.head(int(fault), len(PAGE), "text/html"); self.wfile.write(PAGE)
        elif fault == "slow":
            self.head(200, len(body))
            step = max(1, len(body) // 20)
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step]); self.wfile.flush(); time.sleep(0.1)
        elif fault == "stall":
            self.head(200, len(body)); self.wfile.write(body[:half]); self.wfile.flush(); time.sleep(6); self.rst()
        elif fault == "corrupt":
            bad = bytearray(body)
            if bad:
                i = rng.randrange(len(bad)); bad[i] ^= 0x01
            self.head(200, len(bad)); self.wfile.write(bytes(bad))
        elif fault == "html200":
            self.head(200, len(PAGE), "text/html"); self.wfile.write(PAGE)
        elif fault == "html404":
            self.head(404, len(PAGE), "text/html"); self.wfile.write(PAGE)


class S(http.server.ThreadingHTTPServer):
    daemon_threads = True


srv = S(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as fh:
    fh.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
deadline = time.time() + seconds
srv.timeout = 0.5
while time.time() < deadline:
    srv.handle_request()

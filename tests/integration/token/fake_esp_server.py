#!/usr/bin/env python3
"""Test-only stand-in for the ESP server endpoints esp-token talks to.

Usage: fake_esp_server.py WORKDIR API_TOKEN

WORKDIR must hold ca.crt/ca.key (the throwaway issuing CA) and
server.crt/server.key (HTTPS certificate for 127.0.0.1, signed by the CA).
The server listens on 127.0.0.1 on a free port, serves HTTPS, and writes the
port number to WORKDIR/port once it is ready.  Signing is done with the
openssl command line (`openssl x509 -req`).

Endpoints (the contract in docs/esp-token.md):
  POST /api/v1/applications/<N>/certificates  (Bearer API_TOKEN)
       application 403: refused (403, Chinese message)
       application 500: the first request issues the certificate but answers
                        500 (a lost answer), later requests get it again
       idempotent per (application, token_serial)
  GET  /api/v1/login/challenge
  POST /api/v1/login/certificate   (verifies the signature with openssl)
Every request is appended to WORKDIR/requests.log as one JSON line.
"""
import base64
import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORK = sys.argv[1]
API_TOKEN = sys.argv[2]
LOCK = threading.Lock()
ISSUED = {}       # (application, token_serial) -> (serial hex, cert pem)
FAILED_ONCE = set()
CHALLENGES = {}   # id -> challenge bytes


def run_openssl(args, data=None):
    return subprocess.run(["openssl"] + args, input=data, capture_output=True, check=False)


def issue(csr_pem):
    with tempfile.TemporaryDirectory() as d:
        csr = os.path.join(d, "req.csr")
        ext = os.path.join(d, "ext.cnf")
        out = os.path.join(d, "cert.pem")
        with open(csr, "w") as f:
            f.write(csr_pem)
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=clientAuth\n")
        serial = "0x" + secrets.token_hex(16)
        r = run_openssl(["x509", "-req", "-in", csr, "-CA", os.path.join(WORK, "ca.crt"),
                         "-CAkey", os.path.join(WORK, "ca.key"), "-set_serial", serial,
                         "-days", "1095", "-sha256", "-extfile", ext, "-out", out])
        if r.returncode != 0:
            return None, r.stderr.decode()
        with open(out) as f:
            return serial[2:], f.read()


def verify_signature(cert_pem, challenge, signature):
    with tempfile.TemporaryDirectory() as d:
        c = os.path.join(d, "c.pem")
        k = os.path.join(d, "k.pem")
        m = os.path.join(d, "m.bin")
        s = os.path.join(d, "s.bin")
        with open(c, "w") as f:
            f.write(cert_pem)
        r = run_openssl(["verify", "-CAfile", os.path.join(WORK, "ca.crt"), c])
        if r.returncode != 0:
            return False
        r = run_openssl(["x509", "-in", c, "-pubkey", "-noout", "-out", k])
        if r.returncode != 0:
            return False
        with open(m, "wb") as f:
            f.write(challenge)
        with open(s, "wb") as f:
            f.write(signature)
        r = run_openssl(["dgst", "-sha256", "-verify", k, "-signature", s, m])
        return r.returncode == 0


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj):
        body = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def record(self, body):
        with LOCK, open(os.path.join(WORK, "requests.log"), "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "auth": self.headers.get("Authorization"),
                                "body": body}, ensure_ascii=False) + "\n")

    def read_json(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.record(body)
        return body

    def do_GET(self):
        self.record(None)
        if self.path == "/api/v1/login/challenge":
            cid = secrets.token_hex(8)
            ch = secrets.token_bytes(32)
            with LOCK:
                CHALLENGES[cid] = ch
            return self.reply(200, {"challenge": base64.b64encode(ch).decode(), "id": cid})
        self.reply(404, {"error": "not_found", "message": "没有这个地址"})

    def do_POST(self):
        body = self.read_json()
        m = re.fullmatch(r"/api/v1/applications/(\d+)/certificates", self.path)
        if m:
            return self.enroll(m.group(1), body)
        if self.path == "/api/v1/login/certificate":
            return self.login(body)
        self.reply(404, {"error": "not_found", "message": "没有这个地址"})

    def enroll(self, app, body):
        if self.headers.get("Authorization") != "Bearer " + API_TOKEN:
            return self.reply(401, {"error": "unauthorized", "message": "API令牌无效"})
        if not isinstance(body, dict) or not isinstance(body.get("csr"), str) \
                or not isinstance(body.get("token_serial"), str):
            return self.reply(400, {"error": "bad_request", "message": "请求格式不对"})
        if app == "403":
            return self.reply(403, {"error": "application_not_approved",
                                    "message": "申请尚未批准，不能签发证书"})
        key = (app, body["token_serial"])
        with LOCK:
            have = ISSUED.get(key)
        if have is None:
            serial, pem = issue(body["csr"])
            if serial is None:
                return self.reply(400, {"error": "bad_csr", "message": "证书请求无效"})
            with LOCK:
                ISSUED[key] = (serial, pem)
            have = (serial, pem)
            if app == "500" and key not in FAILED_ONCE:
                FAILED_ONCE.add(key)
                return self.reply(500, {"error": "internal", "message": "服务器内部错误"})
        with open(os.path.join(WORK, "ca.crt")) as f:
            chain = f.read()
        self.reply(201, {"serial": have[0], "certificate": have[1], "chain": chain})

    def login(self, body):
        try:
            cid = body["id"]
            with LOCK:
                ch = CHALLENGES.pop(cid)
            if base64.b64decode(body["challenge"]) != ch:
                raise ValueError("challenge")
            sig = base64.b64decode(body["signature"])
            ok = verify_signature(body["certificate"], ch, sig)
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            return self.reply(401, {"error": "bad_signature", "message": "签名验证失败"})
        self.reply(200, {"session": "sess-" + secrets.token_hex(16)})


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(WORK, "server.crt"), os.path.join(WORK, "server.key"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = os.path.join(WORK, "port.tmp")
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, os.path.join(WORK, "port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A SigV4-checking reverse proxy: the stand-in for Amazon OpenSearch Service and OpenSearch Serverless in
the integration tests, in front of the dev stack's real OpenSearch (no AWS endpoint is reachable here).

It does what AWS does with a request before the cluster sees it: recompute the signature from the canonical
request with botocore's SigV4 signer (an implementation independent of the Rust `aws-sigv4` crate that the
tool signs with) and the credentials it knows, and forward only requests whose signature, date (within
--max-skew of now), credential scope (region, service), session token and body hash (x-amz-content-sha256
when present; required in Serverless mode) are right. Everything else gets 403 with an AWS-like JSON body and
x-amzn-ErrorType header. The signature covers the bytes sent, so a gzip'd body is checked as sent, and
forwarded as sent (OpenSearch decompresses it).

Credentials: --access-key/--secret-key[/--session-token/--expires] at start, plus --credentials-file, a JSON
list of {"AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?} (STS's names; Expiration ISO 8601
or epoch seconds) re-read whenever it changes, so a test can rotate keys, let them expire mid-run, or add
the ones moto's STS AssumeRole handed out. Write it atomically (a temporary file, then rename).

--serverless search|timeseries behaves as an OpenSearch Serverless collection (service `aoss`): 404 for
GET /, _nodes, _refresh, _cluster, ISM and _cat (except _cat/indices, which AWS documents as supported);
a time-series collection refuses a custom _id on create/index, in _bulk items (per item, 400) and in the
single-document APIs, with Serverless's own error text. Both checks come after authentication, as on AWS;
they live in sigv4_proxy_serverless.py beside this script.

Bounded and loopback only: binds 127.0.0.1, forwards only to a loopback upstream, serves at most
--max-connections at once and bodies up to --max-body, exits after --max-seconds, on SIGTERM, and (with
--exit-on-stdin-eof) when its parent goes away. Prints its port on stdout when ready. Logs one line per
refused request on stderr: method, path, reason; never a key, token, signature, query or body.
GET /_sigv4_proxy/stats (unsigned) answers counters, for tests.
"""

import argparse
import datetime
import gzip
import hashlib
import hmac
import http.client
import http.server
import json
import os
import signal
import sys
import threading
import time
import urllib.parse

try:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:  # pragma: no cover
    sys.exit("sigv4-proxy: botocore is missing (scripts/dev-stack.sh up moto makes a venv with it)")

import sigv4_proxy_serverless as serverless  # beside this script

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length", "host"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Refused(Exception):
    """A request AWS would refuse: status, x-amzn-ErrorType and message."""

    def __init__(self, status, kind, message):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def parse_expiry(value):
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class CredentialStore:
    """Known credentials: the ones given at start plus the file's. The file is small and read on every
    request (a stat could miss a rewrite within the file system's timestamp granularity); parsed on change."""

    def __init__(self, static, path):
        self.static, self.path, self.lock = static, path, threading.Lock()
        self.raw, self.from_file = None, {}

    def lookup(self, access_key):
        with self.lock:
            if self.path:
                self._reload()
            return self.from_file.get(access_key) or self.static.get(access_key)

    def _reload(self):
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            self.raw, self.from_file = None, {}
            return
        if raw == self.raw:
            return
        try:
            self.from_file = {e["AccessKeyId"]: (e["SecretAccessKey"], e.get("SessionToken"),
                                                 parse_expiry(e.get("Expiration"))) for e in json.loads(raw)}
            self.raw = raw
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            log(f"credentials file unreadable, keeping the previous set: {type(e).__name__}")


def log(msg):
    print(f"sigv4-proxy: {msg}", file=sys.stderr, flush=True)


def parse_authorization(value):
    if not value.startswith("AWS4-HMAC-SHA256 "):
        raise Refused(403, "IncompleteSignatureException", "Only AWS4-HMAC-SHA256 is supported.")
    parts = {}
    for item in value[len("AWS4-HMAC-SHA256 "):].split(","):
        key, _, val = item.strip().partition("=")
        parts[key] = val
    for key in ("Credential", "SignedHeaders", "Signature"):
        if not parts.get(key):
            raise Refused(403, "IncompleteSignatureException",
                          f"Authorization header requires '{key}' parameter. Authorization={value[:17]}...")
    return parts["Credential"], parts["SignedHeaders"], parts["Signature"]


def verify(cfg, store, method, target, headers, body):
    """Raises Refused unless the request is signed as AWS requires. `headers`: lower-case name -> value."""
    auth = headers.get("authorization")
    if not auth:
        raise Refused(403, "AccessDeniedException",
                      f"User: anonymous is not authorized to perform: {cfg.service}:ESHttp{method.title()}")
    credential, signed, signature = parse_authorization(auth)
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise Refused(403, "IncompleteSignatureException", "Credential must have exactly 5 slash-delimited elements.")
    access_key, day, region, service, _ = scope
    amz_date = headers.get("x-amz-date", "")
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise Refused(403, "IncompleteSignatureException", "Authorization header requires existence of "
                      "either a 'X-Amz-Date' or a 'Date' header.") from None
    now = datetime.datetime.now(datetime.timezone.utc)
    if abs((now - when).total_seconds()) > cfg.max_skew:
        raise Refused(403, "InvalidSignatureException", f"Signature expired: {amz_date} is now earlier or later "
                      f"than {now:%Y%m%dT%H%M%SZ} +/- {cfg.max_skew} s.")
    if day != amz_date[:8]:
        raise Refused(403, "InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from "
                      "ISO-8601 version of date from HTTP.")
    if region != cfg.region:
        raise Refused(403, "InvalidSignatureException", f"Credential should be scoped to a valid region, not '{region}'.")
    if service != cfg.service:
        raise Refused(403, "InvalidSignatureException", f"Credential should be scoped to correct service: '{cfg.service}'.")
    known = store.lookup(access_key)
    if known is None:
        raise Refused(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    secret, token, expires = known
    if expires is not None and time.time() >= expires:
        raise Refused(403, "ExpiredTokenException", "The security token included in the request is expired")
    if headers.get("x-amz-security-token") != token:
        raise Refused(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    signed_names = signed.split(";")
    for name in ("host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"):
        if (name in headers or name == "host") and name not in signed_names:
            raise Refused(403, "InvalidSignatureException", f"'{name}' must be a signed header.")
    if any(name not in headers for name in signed_names):
        raise Refused(403, "InvalidSignatureException", "A signed header is missing from the request.")
    body_hash = headers.get("x-amz-content-sha256")
    if body_hash is None and cfg.serverless:
        raise Refused(403, "InvalidSignatureException", "The x-amz-content-sha256 header is required.")
    if body_hash is not None and body_hash != hashlib.sha256(body).hexdigest():
        raise Refused(403, "InvalidSignatureException",
                      "The provided 'x-amz-content-sha256' header does not match what was computed.")
    path, _, query = target.partition("?")
    # Query parameters decoded as form data (the Rust aws-sigv4 crate does the same), re-encoded by botocore.
    params = urllib.parse.parse_qsl(query, keep_blank_values=True)
    request = AWSRequest(method=method, url=f"http://{headers['host']}{path}", data=body, params=params,
                         headers={name: headers[name] for name in signed_names})
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(access_key, secret, token), cfg.service, cfg.region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, signature):
        raise Refused(403, "InvalidSignatureException", "The request signature we calculated does not match the "
                      "signature you provided. Check your AWS Secret Access Key and signing method. Consult the "
                      "service documentation for details.")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections: longer than the clients' pools keep them (hyper: 90 s)
    server_version = "sigv4-proxy"
    sys_version = ""

    def log_message(self, *args):
        pass

    def do_request(self):
        cfg = self.server.cfg
        try:
            body = self.read_body()
        except Refused as e:
            return self.reply_refused(e)
        headers = {}
        for name, value in self.headers.items():
            headers[name.lower()] = f"{headers[name.lower()]},{value}" if name.lower() in headers else value
        path = self.path.partition("?")[0]
        if path == "/_sigv4_proxy/stats" and self.command == "GET":
            return self.reply_json(200, self.server.snapshot())
        try:
            verify(cfg, self.server.store, self.command, self.path, headers, body)
        except Refused as e:
            return self.reply_refused(e)
        segments = [urllib.parse.unquote(s) for s in path.strip("/").split("/") if s]
        if cfg.serverless and serverless.missing(segments):
            self.server.count("serverless_404")
            return self.reply_json(*serverless.es_error(404, "not_found", f"{self.command} {path} is not supported by "
                                             "OpenSearch Serverless"))
        if cfg.serverless == "timeseries" and self.command in ("PUT", "POST"):
            if len(segments) == 3 and segments[1] in ("_doc", "_create"):
                self.server.count("id_refused")
                return self.reply_json(*serverless.es_error(400, "illegal_argument_exception", serverless.ID_REFUSED))
            if segments[-1:] == ["_bulk"] and len(segments) <= 2:
                return self.bulk_without_ids(segments, headers, body)
        self.forward(headers, body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_request

    def read_body(self):
        limit = self.server.cfg.max_body
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > limit:
                    self.close_connection = True
                    raise Refused(413, "RequestEntityTooLarge", f"Request body larger than {limit} bytes.")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            self.close_connection = True
            raise Refused(413, "RequestEntityTooLarge", f"Request body larger than {limit} bytes.")
        return self.rfile.read(length) if length else b""

    def bulk_without_ids(self, segments, headers, body):
        try:
            data = gzip.decompress(body) if headers.get("content-encoding", "").lower() == "gzip" else body
            bulk = serverless.TimeSeriesBulk(data, segments[0] if len(segments) == 2 else None)
        except (OSError, EOFError, ValueError, StopIteration, AttributeError, TypeError, KeyError):
            return self.forward(headers, body)  # OpenSearch says what is wrong with it
        if not bulk.refused:
            return self.forward(headers, body)
        self.server.count("id_refused", bulk.refused)
        path, _, query = self.path.partition("?")
        params = urllib.parse.parse_qsl(query, keep_blank_values=True)
        wanted = dict(params).get("filter_path")  # applied to the merged answer, not to OpenSearch's part
        query = urllib.parse.urlencode([(k, v) for k, v in params if k != "filter_path"])
        answer = {"took": 0, "errors": False, "items": []}
        if bulk.kept:
            fwd = {k: v for k, v in headers.items() if k not in ("content-encoding", "accept-encoding")}
            try:
                status, _, raw = self.upstream("POST", f"{path}?{query}" if query else path, fwd, bulk.kept)
            except OSError as e:
                self.server.count("upstream_error")
                return self.reply_json(502, {"message": f"upstream unreachable: {type(e).__name__}"})
            if status != 200:
                return self.reply_json(status, json.loads(raw or b"{}"))
            answer = json.loads(raw)
        merged = bulk.merge(answer)
        self.reply_json(200, serverless.filter_path(merged, wanted) if wanted else merged)

    def upstream(self, method, target, headers, body):
        cfg = self.server.cfg
        conn = http.client.HTTPConnection(cfg.upstream_host, cfg.upstream_port, timeout=cfg.upstream_timeout)
        try:
            fwd = {k: v for k, v in headers.items() if k not in HOP_BY_HOP and k != "authorization"}
            if body or method in ("POST", "PUT", "PATCH"):
                fwd["content-length"] = str(len(body))
            conn.request(method, target, body=body or None, headers=fwd)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, resp.getheaders(), raw
        finally:
            conn.close()

    def forward(self, headers, body):
        try:
            status, resp_headers, raw = self.upstream(self.command, self.path, headers, body)
        except OSError as e:
            self.server.count("upstream_error")
            return self.reply_json(502, {"message": f"upstream unreachable: {type(e).__name__}"})
        self.server.count("forwarded")
        self.send_response(status)
        length = None
        for name, value in resp_headers:
            if name.lower() == "content-length":
                length = value
            elif name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", length if self.command == "HEAD" and length else str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def reply_refused(self, e):
        self.server.count(e.kind)
        log(f"refused {self.command} {self.path.partition('?')[0]}: {e.status} {e.kind}: {e.message}")
        self.reply_json(e.status, {"message": e.message}, {"x-amzn-ErrorType": e.kind})

    def reply_json(self, status, doc, extra=None):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cfg, store):
        super().__init__(("127.0.0.1", cfg.port), Handler)
        self.cfg, self.store = cfg, store
        self.slots = threading.BoundedSemaphore(cfg.max_connections)
        self.stats, self.stats_lock = {}, threading.Lock()

    def count(self, key, n=1):
        with self.stats_lock:
            self.stats[key] = self.stats.get(key, 0) + n

    def snapshot(self):
        with self.stats_lock:
            return dict(self.stats)

    def process_request(self, request, client_address):
        self.slots.acquire()
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--upstream", default="http://127.0.0.1:9201", help="the real cluster (loopback only)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--service", help="signing service (default: es, or aoss with --serverless)")
    p.add_argument("--serverless", choices=["search", "timeseries"], help="behave as a Serverless collection")
    p.add_argument("--access-key")
    p.add_argument("--secret-key")
    p.add_argument("--session-token")
    p.add_argument("--expires", help="expiry of --access-key: ISO 8601 or epoch seconds")
    p.add_argument("--credentials-file", help="JSON list of STS-style credentials, re-read when it changes")
    p.add_argument("--max-skew", type=int, default=300, help="accepted clock difference, seconds")
    p.add_argument("--max-body", type=int, default=64 << 20)
    p.add_argument("--max-connections", type=int, default=32)
    p.add_argument("--max-seconds", type=float, default=3600, help="exit after this long")
    p.add_argument("--upstream-timeout", type=float, default=60)
    p.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin closes (parent gone)")
    cfg = p.parse_args()
    up = urllib.parse.urlsplit(cfg.upstream)
    if up.scheme != "http" or up.hostname not in LOOPBACK:
        p.error("--upstream must be http:// on loopback")
    cfg.upstream_host, cfg.upstream_port = up.hostname, up.port or 80
    cfg.service = cfg.service or ("aoss" if cfg.serverless else "es")
    static = {}
    if cfg.access_key:
        if not cfg.secret_key:
            p.error("--access-key needs --secret-key")
        static[cfg.access_key] = (cfg.secret_key, cfg.session_token, parse_expiry(cfg.expires))
    if not static and not cfg.credentials_file:
        p.error("give --access-key/--secret-key or --credentials-file")
    server = Server(cfg, CredentialStore(static, cfg.credentials_file))

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()
        threading.Timer(5, lambda: os._exit(0)).start()  # a stuck handler

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bound = threading.Timer(cfg.max_seconds, stop)
    bound.daemon = True
    bound.start()
    if cfg.exit_on_stdin_eof:
        threading.Thread(target=lambda: (sys.stdin.buffer.read(), stop()), daemon=True).start()
    print(server.server_address[1], flush=True)
    mode = f"serverless {cfg.serverless}" if cfg.serverless else "domain"
    log(f"listening on 127.0.0.1:{server.server_address[1]} -> {cfg.upstream} ({mode}, {cfg.service}, {cfg.region})")
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    os._exit(0)


if __name__ == "__main__":
    main()

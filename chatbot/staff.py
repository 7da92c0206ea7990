"""Who may use the staff page, and which files it may index: an ASGI gate in front of every /admin path.

- Login at /admin/login: user name `admin` and CHATBOT_ADMIN_PASSWORD, both compared in constant time.
- A login gives a signed session cookie (HMAC-SHA256 over a session id and an expiry, SESSION_HOURS): no
  server-side session table, so sessions survive a restart. The key is derived from the password and a
  random secret kept in the cache folder: a new password ends every session. /admin/logout drops the cookie.
- Wrong logins are throttled per client address (LoginThrottle) and logged.
- Files reach the staff page's handlers only as the paths Gradio's upload route returned to this session:
  any other file path in a request (a Gradio FileData naming a file on the server) is refused with 403.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import math
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from . import ui_text as T
from .guard import (
    ADMIN_RE,
    MAX_BODY_BYTES,
    STAFF_UPLOAD_RE,
    Receive,
    Refused,
    Scope,
    Send,
    header,
    is_json_type,
    read_body,
    refuse,
    replay,
)

log = logging.getLogger(__name__)

ADMIN_USER = "admin"
SESSION_COOKIE = "chatbot_staff"
SESSION_HOURS = 8
SECRET_FILE = "staff-session.key"
MAX_FORM_BYTES = 4096


class LoginThrottle:
    """Per client: after the n-th wrong login in a row the next attempt is allowed only 2^(n-1) s later
    (1, 2, 4 … s, at most MAX_DELAY_S); from the LOCKOUT_AFTER-th on, only LOCKOUT_S later. Attempts
    before then get 429 and do not count. A right login resets the client."""

    MAX_DELAY_S = 60.0
    LOCKOUT_AFTER = 10
    LOCKOUT_S = 15 * 60.0
    MAX_CLIENTS = 10_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._clients: OrderedDict[str, tuple[int, float]] = OrderedDict()  # client -> (failures, allowed at)

    def retry_after(self, client: str) -> float:
        """Seconds before `client` may try again (0: now)."""
        _, allowed = self._clients.get(client, (0, 0.0))
        return max(0.0, allowed - self._clock())

    def failed(self, client: str) -> int:
        """Count a wrong login; returns how many in a row."""
        failures = self._clients.pop(client, (0, 0.0))[0] + 1
        delay = self.LOCKOUT_S if failures >= self.LOCKOUT_AFTER else min(2.0 ** (failures - 1), self.MAX_DELAY_S)
        self._clients[client] = (failures, self._clock() + delay)
        while len(self._clients) > self.MAX_CLIENTS:  # the longest quiet go first
            self._clients.popitem(last=False)
        return failures

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)


class Sessions:
    """Signed, expiring session tokens: `<session id>.<expiry>.<HMAC-SHA256 of both>`."""

    def __init__(self, key: bytes, ttl_s: float = SESSION_HOURS * 3600, clock: Callable[[], float] = time.time):
        self._key = key
        self.ttl_s = ttl_s
        self._clock = clock

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self) -> str:
        payload = f"{secrets.token_hex(8)}.{int(self._clock() + self.ttl_s)}"
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: str | None) -> str | None:
        """The session id of a valid, unexpired token; None for anything else."""
        parts = (token or "").split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        sid, expiry, signature = parts
        if not hmac.compare_digest(self._sign(f"{sid}.{expiry}"), signature) or int(expiry) <= self._clock():
            return None
        return sid


def session_key(password: str, cache_dir: Path) -> bytes:
    """HMAC key of the session tokens: the password with a random secret kept (mode 0600) in `cache_dir`,
    so that tokens survive a restart. If the folder is not writable the secret lives in this process only."""
    path = Path(cache_dir) / SECRET_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            secret = path.read_bytes()
        else:
            secret = os.urandom(32)
            with os.fdopen(fd, "wb") as f:
                f.write(secret)
        if len(secret) < 32:
            raise OSError(f"{path} holds {len(secret)} bytes, not a 32-byte secret")
    except OSError as e:
        log.warning("staff sessions end with this process: cannot keep a secret in %s (%s)", path, e)
        secret = os.urandom(32)
    return hmac.new(secret, password.encode(), hashlib.sha256).digest()


class UploadRegistry:
    """The files Gradio's upload route stored for each session (bounded: the latest sessions and files)."""

    MAX_SESSIONS = 100
    MAX_FILES = 1000

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder).resolve()
        self._files: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()

    def add(self, sid: str, paths: list[str]) -> None:
        files = self._files.pop(sid, OrderedDict())
        for path in paths:
            files[str(Path(path).resolve())] = None
        while len(files) > self.MAX_FILES:
            files.popitem(last=False)
        self._files[sid] = files
        while len(self._files) > self.MAX_SESSIONS:
            self._files.popitem(last=False)

    def owns(self, sid: str, path: str) -> bool:
        resolved = Path(path).resolve()
        return resolved.is_relative_to(self.folder) and str(resolved) in self._files.get(sid, {})


def file_paths(data: Any) -> Iterator[str]:
    """Every "path" of a dict anywhere in `data` (a Gradio FileData names its file so)."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if isinstance(value.get("path"), str):
                yield value["path"]
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def cookie(scope: Scope, name: str) -> str | None:
    for part in header(scope, "cookie").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class StaffGate:
    """ASGI middleware: the login, the session check and the upload check of every /admin request."""

    def __init__(self, app: Any, *, password: str, key: bytes, upload_folder: Path,
                 throttle: LoginThrottle | None = None, sessions: Sessions | None = None) -> None:
        self.app = app
        self._password = password.encode()
        self.sessions = sessions or Sessions(key)
        self.throttle = throttle or LoginThrottle()
        self.uploads = UploadRegistry(upload_folder)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] not in ("http", "websocket") or not ADMIN_RE.match(path):
            await self.app(scope, receive, send)
            return
        rest = "/" + ADMIN_RE.sub("", path).strip("/")
        sid = self.sessions.verify(cookie(scope, SESSION_COOKIE))
        if scope["type"] == "websocket":
            if sid is None:
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        try:
            if rest == "/login":
                await self._login_route(scope, receive, send)
            elif rest == "/logout":
                await self._redirect(send, "/admin/login", self._cookie("", 0, scope))
            elif sid is None:
                await self._anonymous(scope, send, rest)
            else:
                await self._staff(scope, receive, send, sid)
        except Refused as e:
            await refuse(send, e.status, str(e))

    async def _anonymous(self, scope: Scope, send: Send, rest: str) -> None:
        if scope["method"] in ("GET", "HEAD") and rest == "/":
            await self._redirect(send, "/admin/login")
        else:
            raise Refused("log in first at /admin/login", 401)

    async def _staff(self, scope: Scope, receive: Receive, send: Send, sid: str) -> None:
        kind = header(scope, "content-type").split(";")[0].strip().lower()
        if STAFF_UPLOAD_RE.match(scope["path"]):
            await self._upload(scope, receive, send, sid)
            return
        if kind == "multipart/form-data":
            raise Refused("files are accepted only by the upload route", 403)
        if scope["method"] == "POST" and is_json_type(kind):
            body = await read_body(receive, MAX_BODY_BYTES)
            for path in file_paths(json.loads(body) if body.strip() else None):
                if not self.uploads.owns(sid, path):
                    log.warning("refused a request naming %s, which this staff session did not upload", path)
                    raise Refused(f"{Path(path).name} was not uploaded in this session: upload it again", 403)
            receive = replay(body, receive)
        await self.app(scope, receive, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, sid: str) -> None:
        """Pass the upload on and remember the paths Gradio answers with (asked uncompressed)."""
        scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"])
        status, chunks = 0, []

        async def capture(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and status == 200:
                    paths = json.loads(b"".join(chunks))
                    self.uploads.add(sid, [p for p in paths if isinstance(p, str)])
            await send(message)

        await self.app(scope, receive, capture)

    async def _login_route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] in ("GET", "HEAD"):
            await self._page(send, 200, "")
            return
        if scope["method"] != "POST":
            raise Refused("use GET or POST", 405)
        client = (scope.get("client") or ("unknown",))[0]
        wait = self.throttle.retry_after(client)
        if wait > 0:
            log.warning("staff login from %s refused: %d s before its next attempt", client, math.ceil(wait))
            await self._page(send, 429, T.LOGIN_WAIT.format(seconds=math.ceil(wait)),
                             [(b"retry-after", str(math.ceil(wait)).encode())])
            return
        form = parse_qs((await read_body(receive, MAX_FORM_BYTES)).decode("latin-1"), max_num_fields=10)
        user, given = (form.get(name, [""])[0].encode() for name in ("username", "password"))
        right_user = hmac.compare_digest(user, ADMIN_USER.encode())
        if hmac.compare_digest(given, self._password) and right_user:
            self.throttle.succeeded(client)
            log.info("staff login from %s", client)
            await self._redirect(send, "/admin/", self._cookie(self.sessions.issue(), int(self.sessions.ttl_s), scope))
            return
        failures = self.throttle.failed(client)
        log.warning("wrong staff login from %s (user %r, %d in a row)", client, user.decode("utf-8", "replace")[:40],
                    failures)
        await self._page(send, 401, T.LOGIN_WRONG)

    @staticmethod
    def _cookie(token: str, max_age: int, scope: Scope) -> tuple[bytes, bytes]:
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        value = f"{SESSION_COOKIE}={token}; Path=/admin; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
        return (b"set-cookie", value.encode())

    @staticmethod
    async def _redirect(send: Send, location: str, *extra: tuple[bytes, bytes]) -> None:
        headers = [(b"location", location.encode()), (b"content-length", b"0"), *extra]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    async def _page(send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        body = T.LOGIN_PAGE.format(title=T.ADMIN_TITLE, hint=html.escape(T.ADMIN_LOGIN_MESSAGE),
                                   message=html.escape(message), user=ADMIN_USER).encode()
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                   (b"cache-control", b"no-store"), *(extra or [])]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

"""What every request to the web app meets before any route: the HTTP API, the chat's Gradio routes and the
staff page alike.

- A request body has a size limit: MAX_BODY_BYTES, except the staff page's upload route (its upload limit,
  and the length must be declared). A declared length above it is refused before reading, a streamed body
  as soon as it passes it.
- A JSON body must be strict UTF-8 JSON, at most MAX_JSON_DEPTH deep, with no lone surrogate (\\ud800) in any
  string: anything else gets 400 with {"error": …}, before a route parses it (Gradio's routes would answer
  500 to deep nesting, and a lone surrogate fails only later, when a reply is encoded).
- The public chat accepts no uploads and serves no files: its Gradio upload, file and proxy routes and any
  multipart body answer 404. (Gradio serves every file of its upload folder on every mounted app's
  /gradio_api/file= route: the chat does not need the route, so a staff upload cannot leak through it.)
- Without a staff password every /admin path answers 404; with one, /admin redirects to /admin/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
ADMIN_RE = re.compile(r"^/+admin(?=/|$)", re.IGNORECASE)
STAFF_UPLOAD_RE = re.compile(r"^/+admin/+gradio_api/+upload/*$")
# The chat's Gradio routes it does not use: uploads, files of the upload folder, the reverse proxy.
PUBLIC_DENIED_RE = re.compile(r"^/+gradio_api/+(?:upload|upload_progress|file=|file/|proxy=)", re.IGNORECASE)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def is_json_type(kind: str) -> bool:
    """Whether FastAPI (and so Gradio) parses a body of this content type as JSON: none, */json, */*+json."""
    return not kind or kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


class Refused(Exception):
    """A request refused with `status` and {"error": message}."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def check_json(body: bytes) -> Any:
    """The parsed JSON of `body`; Refused when it is not strict UTF-8 JSON, too deep, or holds a lone
    surrogate (a string no reply could encode)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refused(f"body is not JSON: it is not UTF-8 (byte 0x{body[e.start]:02x} at position {e.start})") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise Refused(f"body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as e:
        raise Refused(f"body is not JSON ({e})") from None
    _check_value(data)
    return data


def _check_value(data: Any) -> None:
    """Walk `data` without recursion (it may be deep): depth and strings."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            bad = _SURROGATE_RE.search(value)
            if bad:
                raise Refused(f"body holds a lone surrogate (U+{ord(bad.group()):04X}), which is no character: "
                              "send valid Unicode")
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise Refused(f"body is nested deeper than {MAX_JSON_DEPTH} levels")
            items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
            for key, item in items:
                if key is not None:
                    stack.append((key, depth + 1))
                stack.append((item, depth + 1))


async def refuse(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": message}, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def header(scope: Scope, name: str) -> str:
    wanted = name.lower().encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return ""


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, Refused (413) as soon as it passes `limit`."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused("the client went away", 400)
        body.extend(message.get("body", b""))
        if len(body) > limit:
            raise Refused(f"request body is larger than {limit // 1024} KB", 413)
        if not message.get("more_body", False):
            return bytes(body)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app `body` (already read) and then the client's later messages."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


class RequestGuard:
    """ASGI middleware applying the rules of this module's docstring."""

    def __init__(self, app: Any, *, admin_enabled: bool, staff_upload_bytes: int) -> None:
        self.app = app
        self.admin_enabled = admin_enabled
        self.staff_upload_bytes = staff_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        staff = bool(ADMIN_RE.match(path))
        if scope["type"] == "websocket":
            if staff and not self.admin_enabled:
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        try:
            screened = await self._screen(scope, receive, send, path, staff)
        except Refused as e:
            await refuse(send, e.status, str(e))
            return
        if screened is not None:
            await self.app(scope, screened, send)

    async def _screen(self, scope: Scope, receive: Receive, send: Send, path: str, staff: bool) -> Receive | None:
        """The `receive` the app gets, or None when this already answered."""
        if staff and not self.admin_enabled:
            raise Refused("not found", 404)
        if staff and re.fullmatch(r"/+admin", path, re.IGNORECASE):
            query = scope.get("query_string", b"").decode("latin-1")
            location = "/admin/" + (f"?{query}" if query else "")
            await send({"type": "http.response.start", "status": 307,
                        "headers": [(b"location", location.encode()), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return None
        kind = header(scope, "content-type").split(";")[0].strip().lower()
        if not staff and (PUBLIC_DENIED_RE.match(path) or kind == "multipart/form-data"):
            raise Refused("not found: the chat accepts no uploads and serves no files", 404)
        upload = bool(STAFF_UPLOAD_RE.match(path))
        limit = self.staff_upload_bytes if upload else MAX_BODY_BYTES
        declared = header(scope, "content-length")
        if declared.isdigit() and int(declared) > limit:
            raise Refused(f"request body is larger than {limit // 1024} KB", 413)
        if upload:  # streamed to disk by Gradio: the server reads no more than the declared length
            if not declared.isdigit():
                raise Refused("an upload must declare its length (Content-Length)", 411)
            return receive
        if scope["method"] in ("GET", "HEAD", "OPTIONS") and not declared and not header(scope, "transfer-encoding"):
            return receive
        body = await read_body(receive, limit)
        if is_json_type(kind) and body.strip():
            check_json(body)
        return replay(body, receive)

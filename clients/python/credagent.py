"""credagent: ask the local credagent agent for a credential over its Unix socket.

One stdlib-only module (Python >= 3.9). The rule for apps: ask at every new connection (a connection
factory, a pool's connect hook), never keep a credential past its expires_at. Answers are cached in
the process until shortly before they expire, so asking on every connection costs a dict lookup.

    import credagent, psycopg
    def connect():
        cred = credagent.get_credential("db")
        return psycopg.connect(host="db.example.com", dbname="app", user="app", password=cred["token"])

Windows named pipes are not supported by this module (use the Node client or `credagent exec`).
"""

from __future__ import annotations

import http.client
import json
import ntpath
import os
import posixpath
import re
import socket
import stat
import sys
import threading
import time
import urllib.parse
from typing import Any, Callable, Dict, Mapping, Optional

__all__ = ["CredagentError", "Client", "get_credential", "default_socket_path", "session_token_file"]


class CredagentError(Exception):
    """An error from the agent (its stable code: not_found, forbidden, locked, ...) or from reaching it
    (agent_not_running, unavailable, timeout)."""

    def __init__(self, code: str, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.code = code
        self.status = status


def _is_private_dir(path: str, uid: int) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and (st.st_mode & 0o077) == 0


def _os_username() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name to be had: the pipe's name says "user"
        return ""


def default_socket_path(
    env: Optional[Mapping[str, str]] = None,
    *,
    platform: Optional[str] = None,
    uid: Optional[int] = None,
    username: Optional[Callable[[], str]] = None,
    is_private_dir: Optional[Callable[[str], bool]] = None,
) -> str:
    """$CRED_SOCK, else where the agent listens by default: the same rules as credagent itself
    (src/paths.ts), checked against the same table (test/fixtures/socket-paths.json). The keyword
    arguments are for tests: another platform's facts on this machine."""
    env = os.environ if env is None else env
    if env.get("CRED_SOCK"):
        return env["CRED_SOCK"]
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        name = env.get("USER") or env.get("USERNAME") or (username or _os_username)()
        return "\\\\.\\pipe\\credagent-" + (re.sub(r'[\\/:*?"<>|\s]+', "-", name) or "user")
    if uid is None:
        uid = os.getuid() if hasattr(os, "getuid") else -1
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime.startswith("/"):
        return posixpath.join(runtime, "cred.sock")
    session = f"/run/user/{uid}"
    private = is_private_dir or (lambda d: _is_private_dir(d, uid))
    if platform.startswith("linux") and uid >= 0 and private(session):
        return posixpath.join(session, "cred.sock")
    tmp = env.get("TMPDIR", "")
    tmp = tmp if tmp.startswith("/") else "/tmp"
    return posixpath.join(tmp, f"credagent-{uid}", "cred.sock")


def session_token_file(socket_path: str, env: Optional[Mapping[str, str]] = None) -> str:
    """The session token's file: beside a Unix socket; for a named pipe, in the agent's state
    directory (%LOCALAPPDATA%\\credagent), named after the pipe."""
    env = os.environ if env is None else env
    pipe = re.match(r"^\\\\[.?]\\pipe\\(.*)$", socket_path, re.IGNORECASE)
    if not pipe:
        return socket_path + ".token"
    leaf = re.sub(r'[\\/:*?"<>|]', "-", pipe.group(1))
    local = env.get("LOCALAPPDATA") or ntpath.join(os.path.expanduser("~"), "AppData", "Local")
    return ntpath.join(local, "credagent", leaf + ".token")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class Client:
    """A client of one agent. Thread-safe: concurrent callers asking for the same credential share
    one request."""

    def __init__(
        self,
        socket_path: Optional[str] = None,
        session_token: Optional[str] = None,
        timeout: float = 30.0,
        refresh_margin: float = 60.0,
        now: Callable[[], float] = time.time,
    ):
        self.socket_path = socket_path or default_socket_path()
        if self.socket_path.startswith("\\\\"):
            raise CredagentError("unsupported", "this module speaks to Unix sockets only; on Windows use the Node client or 'credagent exec'")
        self._session_token = session_token if session_token is not None else os.environ.get("CRED_SESSION_TOKEN")
        self._timeout = timeout
        self._margin = refresh_margin
        self._now = now
        self._cache: Dict[str, Dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._inflight: Dict[str, threading.Lock] = {}

    def get_credential(self, name: str, min_valid: Optional[int] = None) -> Dict[str, Any]:
        """The agent's answer for credential NAME: a dict with token, token_type, expires_at,
        expires_in (and the parts of multi-part credentials). From the cache while it stays valid for
        the margin (and for min_valid seconds), else from the agent."""
        hit = self._cached(name, min_valid)
        if hit is not None:
            return hit
        key = f"{name}\0{min_valid}"
        with self._lock:
            gate = self._inflight.setdefault(key, threading.Lock())
        with gate:
            # Another caller may have fetched it while this one waited at the gate.
            hit = self._cached(name, min_valid)
            if hit is not None:
                return hit
            answer = self._fetch(name, min_valid)
        return answer

    def clear(self, name: Optional[str] = None) -> None:
        """Forgets cached answers (all, or one credential's)."""
        with self._lock:
            if name is None:
                self._cache.clear()
            else:
                self._cache.pop(name, None)

    def _cached(self, name: str, min_valid: Optional[int]) -> Optional[Dict[str, Any]]:
        with self._lock:
            entry = self._cache.get(name)
        if entry is None:
            return None
        if entry["expires_at"] - max(self._margin, float(min_valid or 0)) > self._now():
            return entry["credential"]
        return None

    def _fetch(self, name: str, min_valid: Optional[int]) -> Dict[str, Any]:
        path = "/v1/credentials/" + urllib.parse.quote(name, safe="")
        if min_valid is not None:
            path += f"?min_valid={int(min_valid)}"
        answer = self._request("GET", path)
        expires = _parse_time(answer.get("expires_at"))
        if expires is not None:
            with self._lock:
                self._cache[name] = {"credential": answer, "expires_at": expires}
        return answer

    def _authorization(self) -> Dict[str, str]:
        if self._session_token is None:
            try:
                with open(session_token_file(self.socket_path), encoding="utf-8") as f:
                    self._session_token = f.read().strip()
            except OSError:
                pass  # no token file: the agent's socket accepts the user's own processes without one
        return {"Authorization": f"Bearer {self._session_token}"} if self._session_token else {}

    def _request(self, method: str, path: str) -> Dict[str, Any]:
        conn = _UnixConnection(self.socket_path, self._timeout)
        try:
            try:
                conn.request(method, path, headers=self._authorization())
                response = conn.getresponse()
                body = response.read()
            except (FileNotFoundError, ConnectionRefusedError) as err:
                raise CredagentError("agent_not_running", f'no agent is answering at {self.socket_path}; start one with: eval "$(credagent start)"') from err
            except socket.timeout as err:
                raise CredagentError("timeout", f"the agent at {self.socket_path} did not answer within {self._timeout:g} s") from err
            except OSError as err:
                raise CredagentError("unavailable", f"cannot talk to the agent at {self.socket_path}: {err.strerror or err}") from err
        finally:
            conn.close()
        try:
            answer = json.loads(body)
        except ValueError as err:
            raise CredagentError("internal", f"the agent at {self.socket_path} sent a response that is not JSON (HTTP {response.status})", response.status) from err
        if 200 <= response.status < 300:
            return answer
        error = answer.get("error") if isinstance(answer, dict) else None
        error = error if isinstance(error, dict) else {}
        raise CredagentError(
            error.get("code") if isinstance(error.get("code"), str) else "internal",
            error.get("message") if isinstance(error.get("message"), str) else f"the agent answered HTTP {response.status}",
            response.status,
        )


def _parse_time(value: Any) -> Optional[float]:
    if not isinstance(value, str):
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


_shared: Optional[Client] = None
_shared_lock = threading.Lock()


def get_credential(name: str, min_valid: Optional[int] = None) -> Dict[str, Any]:
    """get_credential on one client per process (default socket and session token)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Client()
    return _shared.get_credential(name, min_valid)

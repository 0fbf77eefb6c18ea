"""Talking to git remotes: the one module that imports dulwich.

dulwich speaks the git protocols (local paths and ``file://``, ``git://``, ``http(s)://``,
``ssh://`` and ``user@host:path`` through the system ssh client); the objects travel in
and out of the local repository through libgit2 (:mod:`gitxp.git.repo`), which is several
times faster than dulwich's pure-Python object store at a thousand runs:

- push: the objects to send are enumerated by libgit2 and streamed to dulwich as
  pack records (the objects most alike from run to run as deltas), never written to
  disk;
- fetch: the pack the server sends is written to ``objects/pack/``, indexed and checked
  as ``git fsck`` checks objects in one pass (:mod:`gitxp.git.packindex`), and made
  visible with two renames only once it is complete and every commit asked for is sound;
  otherwise :class:`~gitxp.errors.UntrustedObjectsError` names the commits refused. A
  failed fetch leaves no pack, no index and no ref behind.

Local paths use the ``git`` command's own ``upload-pack``/``receive-pack`` when it is
installed, as ``git push /path`` does, so hooks in the receiving repository run; without
it dulwich's in-process local client is used.

Credentials for http(s) come from the URL, from ``GITXP_USERNAME``/``GITXP_PASSWORD``, or
from git's credential helpers (``git credential fill``); they are never printed: every
message goes through :func:`mask_url` and scrubs the password.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from dulwich.client import (
    FetchPackResult,
    GitClient,
    HTTPUnauthorized,
    LocalGitClient,
    LsRemoteResult,
    SubprocessGitClient,
    get_transport_and_path,
)
from dulwich.config import StackedConfig
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.objects import ObjectID
from dulwich.pack import UnpackedObject, create_delta
from dulwich.refs import Ref
from dulwich.repo import Repo as DulwichRepo

from gitxp.errors import RemoteError
from gitxp.git.repo import NOTES_REF, RUNS_PREFIX, GitRepo
from gitxp.share.bundle import BundleFile, is_bundle
from gitxp.share.packs import PackSink
from gitxp.share.remotes import (
    PASSWORD_ENV,
    USERNAME_ENV,
    Credentials,
    Remote,
    git_credential,
    local_path,
    mask_url,
    resolve_remote,
)
from gitxp.store.attestations import ATTEST_PREFIX, parse_attestation_ref
from gitxp.store.ids import is_run_id

__all__ = ["Connection", "PushResult", "Remote", "mask_url", "resolve_remote"]

ZERO_ID = "0" * 40

Progress = Callable[[str], None]
T = TypeVar("T")


# -- the connection ---------------------------------------------------------------------


@dataclass
class PushResult:
    """What a push found on the remote, what it asked for, and the server's answers."""

    before: dict[str, str]
    updates: dict[str, str | None]
    status: dict[str, str | None] = field(default_factory=dict)  # ref → None (ok) or reason
    objects: int = 0


class Connection:
    """Push, fetch and list run refs of one remote, with credentials and one-line errors.

    The refs it lists, and that the ``plan``/``choose`` callbacks see, are the run refs
    (``refs/gitxp/runs/*``) and the notes ref of tags and notes (``refs/notes/gitxp``)
    when the remote has one.
    """

    def __init__(self, repo: GitRepo, remote: Remote, progress: Progress | None = None) -> None:
        self.repo = repo
        self.remote = remote
        self.progress = progress
        self.messages: list[str] = []  # lines the server printed (hooks, errors)
        self._secrets: list[str] = []

    # -- the three operations --------------------------------------------------------

    def ls_refs(self) -> dict[str, str]:
        """The remote's run refs (``refs/gitxp/runs/*``) and notes ref, name → commit id;
        nothing fetched."""
        prefix = _REF_PREFIXES
        result = self._call("list", lambda c, p: c.get_refs(p.encode(), ref_prefix=prefix))
        return _run_refs(result.refs)

    def push(self, plan: Callable[[dict[str, str]], dict[str, str | None]]) -> PushResult:
        """Send run refs: ``plan`` gets the remote's run refs, returns ref → new id or None.

        None deletes the ref. Every update is a compare-and-swap against the value the
        remote advertised; the server's answer for each ref is in ``status``.
        """
        outcome = PushResult({}, {})

        def update_refs(old: dict[Ref, ObjectID]) -> dict[Ref, ObjectID]:
            outcome.before = _run_refs(old)
            outcome.updates = plan(dict(outcome.before))
            return {
                Ref(k.encode()): ObjectID((v or ZERO_ID).encode())
                for k, v in outcome.updates.items()
            }

        def generate(
            have: AbstractSet[ObjectID],
            want: AbstractSet[ObjectID],
            *,
            ofs_delta: bool = True,
            progress: Callable[[bytes], None] | None = None,
        ) -> tuple[int, Iterator[UnpackedObject]]:
            objects = self.repo.objects_to_send(
                [w.decode() for w in want], [h.decode() for h in have]
            )
            outcome.objects = len(objects)
            return len(objects), self._records(objects, deltas=ofs_delta)

        result = self._call(
            "push to",
            lambda c, p: c.send_pack(p.encode(), update_refs, generate, progress=self._remote_says),
        )
        statuses = result.ref_status or {}
        outcome.status = {
            (k.decode() if isinstance(k, bytes) else str(k)): v for k, v in statuses.items()
        }
        for name in outcome.updates:
            outcome.status.setdefault(name, None)
        return outcome

    def fetch(
        self, choose: Callable[[dict[str, str]], list[str]], filter_spec: str | None = None
    ) -> tuple[dict[str, str], int]:
        """Download what ``choose`` wants of the remote's run refs into the object database.

        ``choose`` gets the remote's run refs and returns the commit ids wanted. Returns
        the remote's run refs and the number of objects received. No ref is changed here.
        ``filter_spec`` (``blob:limit=1m``) asks the server to leave objects out; the pack
        is then marked as a promisor pack, as git marks those of a partial clone.
        Raises :class:`~gitxp.errors.UntrustedObjectsError` (nothing kept) when a commit
        wanted is not a commit or reaches an object that fails the checks of ``git fsck``.
        """
        pack_dir = self.repo.common_dir / "objects" / "pack"
        seen: dict[str, str] = {}
        asked: list[str] = []
        haves = _Haves()

        def determine_wants(
            refs: Mapping[Ref, ObjectID], depth: int | None = None
        ) -> list[ObjectID]:
            seen.clear()
            seen.update(_run_refs(refs))
            wanted = [c for c in dict.fromkeys(choose(dict(seen))) if not self.repo.has_object(c)]
            if wanted:
                haves.load(self.repo.negotiation_haves(list(seen.values())))
            asked[:] = wanted
            return [ObjectID(c.encode()) for c in wanted]

        def attempt(client: GitClient, path: str) -> int:
            sink = PackSink(pack_dir, self.progress)
            try:
                client.fetch_pack(
                    path,
                    determine_wants,
                    haves,
                    sink.write,
                    progress=self._remote_says,
                    ref_prefix=_REF_PREFIXES,
                    filter_spec=filter_spec.encode() if filter_spec else None,
                )
                return sink.install(asked, promisor=filter_spec is not None)
            finally:
                sink.discard()

        count = self._call("fetch from", attempt)
        return seen, count

    # -- plumbing ---------------------------------------------------------------------

    def _records(self, objects: list[tuple[str, str]], deltas: bool) -> Iterator[UnpackedObject]:
        """The objects as pack records, small ones as deltas when ``deltas``.

        Runs add many objects that look alike: root trees (the same source entries,
        another ``.gitxp``) and ``run.json`` most of all. Such an object is sent as a
        delta against the last whole object of the same type and name in this pack when
        that is less than half its size (chains of depth 1, a new whole base every
        :data:`_DELTA_RUN` deltas), much as git's own name-hash heuristic pairs objects.
        A push of a thousand runs shrinks to less than half (4.2 MB to 1.7 MB).
        """
        step = max(len(objects) // 20, 1000)
        bases: dict[tuple[int, str], tuple[bytes, bytes, int]] = {}  # → id, content, uses
        for done, (oid, name) in enumerate(objects, 1):
            kind, data = self.repo.read_object(oid)
            sha = bytes.fromhex(oid)
            record = None
            if deltas and name in _DELTA_NAMES and len(data) <= _DELTA_MAX:
                base = bases.get((kind, name))
                if base is not None and base[2] < _DELTA_RUN:
                    delta = b"".join(create_delta(base[1], data))
                    if len(delta) < len(data) // 2:
                        record = UnpackedObject(
                            _REF_DELTA, delta_base=base[0], decomp_chunks=[delta], sha=sha
                        )
                        bases[kind, name] = (base[0], base[1], base[2] + 1)
                if record is None:
                    bases[kind, name] = (sha, data, 0)
            yield record or UnpackedObject(kind, decomp_chunks=[data], sha=sha)
            if self.progress is not None and (done % step == 0 or done == len(objects)):
                end = "\n" if done == len(objects) else "\r"
                self.progress(f"sending objects: {done}/{len(objects)}{end}")

    def _remote_says(self, data: bytes) -> None:
        """Sideband text from the server: progress, and messages such as a hook's."""
        text = self._scrub(data.decode("utf-8", "replace"))
        if self.progress is not None and text:
            self.progress("remote: " + text)
        for line in text.splitlines(keepends=True):  # keep lines, drop "\r" counters
            if line.endswith("\n") and line.strip():
                self.messages.append(line.strip())

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def _call(self, verb: str, op: Callable[[GitClient, str], T]) -> T:
        """Run ``op`` on a client for the remote, asking credential helpers after a 401."""
        url = self.remote.url
        parts = urlsplit(url) if "://" in url else None
        user, bare_url = None, url
        if parts is not None and parts.username is not None:
            user = unquote(parts.username)
            bare_url = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        if parts is not None and parts.password is not None:
            creds = Credentials(user or "", unquote(parts.password), "url")
        elif (
            parts is not None and parts.scheme in ("http", "https") and os.environ.get(PASSWORD_ENV)
        ):
            name = os.environ.get(USERNAME_ENV) or user or "gitxp"  # hosts check the token
            creds = Credentials(name, os.environ[PASSWORD_ENV], "env")
        else:
            creds = Credentials(user)
        while True:
            self._secrets = [s for s in (creds.password,) if s]
            client, path = self._client(bare_url if creds.source != "none" else url, creds)
            try:
                result = op(client, path)
            except HTTPUnauthorized:
                if creds.source == "none":
                    found = git_credential(self.repo, "fill", bare_url, creds)
                    if found.source == "helper":
                        creds = found
                        continue
                    raise RemoteError(
                        f"{self.remote.label} needs a username and password: store them with "
                        f"a git credential helper, or set {USERNAME_ENV} and {PASSWORD_ENV}"
                    ) from None
                if creds.source == "helper":
                    git_credential(self.repo, "reject", bare_url, creds)
                raise RemoteError(
                    f"cannot {verb} {self.remote.label}: authentication failed "
                    f"(the server refused the {creds.source} credentials for "
                    f"{mask_url(url) if creds.source == 'url' else bare_url})"
                ) from None
            except RemoteError:
                raise
            except (GitProtocolError, NotGitRepository, OSError, EOFError, ValueError) as err:
                raise RemoteError(self._describe(verb, err)) from None
            finally:
                client.close()
            if creds.source == "helper":
                git_credential(self.repo, "approve", bare_url, creds)
            return result

    def _client(self, url: str, creds: Credentials) -> tuple[GitClient, str]:
        local = local_path(url)
        if local is not None:
            path = os.path.abspath(os.path.expanduser(local))
            if is_bundle(path):
                return _BundleClient(self.repo), path
            if not os.path.isdir(path):
                raise RemoteError(f"{self.remote.label}: no repository at {path}")
            if shutil.which("git"):
                return SubprocessGitClient(thin_packs=False), path
            return LocalGitClient(thin_packs=False), path
        try:
            client, path = get_transport_and_path(
                url,
                config=_config(self.repo),
                thin_packs=False,
                username=creds.username if creds.source != "none" else None,
                password=creds.password if creds.source != "none" else None,
                ssh_command=os.environ.get("GIT_SSH_COMMAND") or None,  # as git reads it
            )
        except ValueError as err:
            raise RemoteError(f"{self.remote.label}: unsupported remote URL ({err})") from None
        return client, path

    def _describe(self, verb: str, err: BaseException) -> str:
        where = self.remote.label
        if isinstance(err, HangupException):
            lines = [
                self._scrub(line.decode("utf-8", "replace")).strip()
                for line in err.stderr_lines or []
            ]
            lines = [re.sub(r"^(fatal|error): ", "", line) for line in lines if line]
            why = lines[-1] if lines else "the remote end hung up unexpectedly"
        elif isinstance(err, NotGitRepository):
            why = "not a git repository"
        elif isinstance(err, ConnectionRefusedError):
            why = "connection refused (is the server running?)"
        elif isinstance(err, socket.gaierror):
            why = f"unknown host ({err.strerror})"
        elif isinstance(err, TimeoutError | socket.timeout):
            why = "timed out"
        else:
            why = str(err) or type(err).__name__
            if "NewConnectionError" in why or "Max retries" in why:
                why = "cannot connect (is the server running and the address right?)"
        why = " ".join(self._scrub(why).split())
        url = self.remote.url
        if self.remote.name is None or self.remote.name == mask_url(url):
            return f"cannot {verb} {mask_url(url)}: {why}"
        return f"cannot {verb} {where} ({mask_url(url)}): {why}"


_REF_PREFIXES = [Ref(p.encode()) for p in (RUNS_PREFIX, NOTES_REF, ATTEST_PREFIX)]


def _run_refs(refs: Any) -> dict[str, str]:
    """The run refs (``refs/gitxp/runs/<run id>``), the notes ref and attestation refs."""
    out: dict[str, str] = {}
    for name, value in (refs or {}).items():
        key = name.decode() if isinstance(name, bytes) else str(name)
        run = key.startswith(RUNS_PREFIX) and is_run_id(key[len(RUNS_PREFIX) :])
        if (run or key == NOTES_REF or parse_attestation_ref(key)) and value:
            out[key] = value.decode() if isinstance(value, bytes) else str(value)
    return out


def _config(repo: GitRepo) -> StackedConfig:
    """git config as dulwich reads it (insteadOf, http.* settings, proxies)."""
    try:
        dulwich_repo = DulwichRepo(str(repo.workdir))
    except Exception:  # a repository format dulwich cannot open: user and system config only
        return StackedConfig.default()
    try:
        return dulwich_repo.get_config_stack()
    finally:
        dulwich_repo.close()


class _Haves:
    """The "have" lines offered while negotiating a fetch (dulwich's graph walker)."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._next = 0
        self.shallow: set[bytes] = set()

    def load(self, items: list[str]) -> None:
        self._items = items
        self._next = 0

    def __next__(self) -> ObjectID | None:
        if self._next >= len(self._items):
            return None
        self._next += 1
        return ObjectID(self._items[self._next - 1].encode())

    def next(self) -> ObjectID | None:
        """The next "have" (None when done)."""
        return self.__next__()

    def ack(self, sha: ObjectID, /) -> None:
        """The server has ``sha``; nothing to prune, the list is short and ordered."""

    def nak(self) -> None:
        """Nothing in common."""


_REF_DELTA = 7  # the pack type of a delta against an object named by id
_DELTA_RUN = 50  # deltas against one whole base object before the next whole one
_DELTA_MAX = 64 << 10  # larger objects are sent whole
# Root trees ("/") and run.json: alike from run to run, and where a delta saves most for
# the time it takes (dulwich's create_delta costs 0.02-0.3 ms even on small objects).
_DELTA_NAMES = frozenset({"/", "run.json"})


class _BundleClient(GitClient):
    """A bundle file as a remote to fetch from: its pack streams to the usual sink."""

    def __init__(self, repo: GitRepo) -> None:
        super().__init__(thin_packs=False)
        self.repo = repo

    def get_refs(self, path: str | bytes, *args: Any, **kwargs: Any) -> LsRemoteResult:
        return LsRemoteResult(_as_refs(BundleFile.open(os.fsdecode(path)).refs), {})

    def fetch_pack(
        self, path: Any, determine_wants: Any, graph_walker: Any, pack_data: Any, *a: Any, **k: Any
    ) -> Any:
        bundle = BundleFile.open(os.fsdecode(path))
        if determine_wants(dict(bundle.refs), None):
            if any(not self.repo.has_object(c) for c in bundle.prerequisites):
                raise ValueError("the bundle needs commits this repository lacks; fetch first")
            for chunk in bundle.pack_chunks():
                pack_data(chunk)
        return FetchPackResult(_as_refs(bundle.refs), {}, b"gitxp-bundle")

    def send_pack(self, path: str | bytes, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("a bundle is read-only; 'gitxp bundle create' writes one")


def _as_refs(refs: dict[bytes, bytes]) -> dict[Ref, ObjectID | None]:
    return {Ref(k): ObjectID(v) for k, v in refs.items()}

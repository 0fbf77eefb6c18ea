"""Finding and reading runs: refs under ``refs/gitxp/runs/`` and their record commits."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from gitxp.errors import BlobTooLargeError, DamagedRunError, RunNotFoundError
from gitxp.git.repo import RUNS_PREFIX, GitRepo
from gitxp.store import checked, record
from gitxp.store.checked import RecordProblem
from gitxp.store.ids import is_run_id, normalize_prefix
from gitxp.store.live import live_metrics, live_output

DAMAGED = "DAMAGED"  # the status shown for a run whose record cannot be read

# latest, latest~2, latest^, latest^^, latest~1^ …: the newest run, counted back.
_LATEST = re.compile(r"^latest((?:[~^]\d*)*)$")
_STEP = re.compile(r"([~^])(\d*)")
# The names git gives a run ref: full, as for-each-ref --format=%(refname:short) prints
# it, and the last two parts.
_REF_FORMS = ("refs/gitxp/runs/", "gitxp/runs/", "runs/")
_SHORTEST_SHA = 4


@dataclass(frozen=True)
class RunRef:
    """A run's id, its ref name and the commit the ref points at."""

    id: str
    ref: str
    commit: str


def list_runs(repo: GitRepo) -> list[RunRef]:
    """Every run in ``repo``, newest first (run ids sort by start time)."""
    runs = [
        RunRef(name[len(RUNS_PREFIX) :], name, target)
        for name, target in repo.refs(RUNS_PREFIX).items()
    ]
    runs.sort(key=lambda r: r.id, reverse=True)
    return runs


def exact_run(repo: GitRepo, spec: str) -> RunRef | None:
    """The local run ``spec`` names by its whole id or ref, looked up without listing the
    runs (at 100,000 runs a listing takes seconds); None for any other kind of name."""
    text = spec.strip()
    for form in ("", *_REF_FORMS):
        if text.startswith(form) and is_run_id(text[len(form) :]):
            run_id = text[len(form) :]
            target = repo.ref_target(RUNS_PREFIX + run_id)
            return None if target is None else RunRef(run_id, RUNS_PREFIX + run_id, target)
    return None


def resolve(repo: GitRepo, spec: str, runs: list[RunRef] | None = None, where: str = "") -> RunRef:
    """The run named by ``spec``, as git users name a commit.

    Accepted: a unique run id prefix; the run's ref (``refs/gitxp/runs/<id>``,
    ``gitxp/runs/<id>``, ``runs/<id>``); ``latest``, ``latest~N``, ``latest^`` (the Nth
    run before the newest); and any revision git accepts (a commit sha or its prefix,
    ``gitxp/runs/<id>~1`` …) that names a commit of a run: its snapshot commit, its
    record commit or an earlier heartbeat commit. ``runs`` (default: the local runs) is
    the list to choose from, ``where`` (`` on the remote``) says where that list is.
    Raises :class:`RunNotFoundError`, with the candidates when the name is ambiguous.
    """
    text = spec.strip()
    if not text:
        raise RunNotFoundError("no run named; give an id prefix from 'gitxp ls', or latest")
    if runs is None:
        named = exact_run(repo, text)
        if named is not None:
            return named
        runs = list_runs(repo)
    latest = _LATEST.match(text)
    if latest:
        return _latest(text, latest.group(1), runs)
    by_id = {run.id: run for run in runs}
    if text in by_id:  # also a ref whose name is not a run id (listed as damaged)
        return by_id[text]
    if text.startswith(RUNS_PREFIX) and text[len(RUNS_PREFIX) :] in by_id:
        return by_id[text[len(RUNS_PREFIX) :]]
    listing = "'gitxp ls --remote'" if where else "'gitxp ls'"
    for form in _REF_FORMS:
        if text.startswith(form) and is_run_id(text[len(form) :]):
            found = by_id.get(text[len(form) :])
            if found is None:
                raise RunNotFoundError(f"no run at {text}{where}; {listing} lists the runs")
            return found
    prefix = normalize_prefix(text)
    matches = {r.id: "id" for r in runs if prefix is not None and r.id.startswith(prefix)}
    commit, owner = _by_commit(repo, text, runs, by_id)
    if owner is not None and commit is not None:
        matches.setdefault(owner.id, f"commit {commit[:10]}")
    if len(matches) == 1:
        return by_id[next(iter(matches))]
    if len(matches) > 1:
        shown = ", ".join(f"{i[:12]} ({how})" for i, how in sorted(matches.items())[:8])
        more = f" and {len(matches) - 8} more" if len(matches) > 8 else ""
        raise RunNotFoundError(
            f"{text!r} is ambiguous: it names runs {shown}{more}{where}; type more characters"
        )
    if commit is not None:
        raise RunNotFoundError(
            f"{text!r} is commit {commit[:10]}, which belongs to no run{where}; "
            f"{listing} lists the runs"
        )
    if text.startswith(_REF_FORMS):
        raise RunNotFoundError(f"no run at {text}{where}; {listing} lists the runs")
    hint = f"use an id prefix or a commit from {listing}, gitxp/runs/<id>, or latest, latest~1"
    if prefix is None:
        raise RunNotFoundError(f"{text!r} is not a run id, a run's ref or a commit; {hint}")
    raise RunNotFoundError(f"no run matches {text!r}{where}; {hint}")


def _latest(text: str, steps: str, runs: list[RunRef]) -> RunRef:
    back = 0
    for kind, digits in _STEP.findall(steps):
        count = int(digits) if digits else 1
        if kind == "^" and count > 1:
            raise RunNotFoundError(f"{text}: a run has one predecessor; write latest~N")
        back += count
    if back >= len(runs):
        have = f"only {len(runs)} run{'s' if len(runs) != 1 else ''}"
        raise RunNotFoundError(f"{text}: this repository has {have}")
    return runs[back]


def _by_commit(
    repo: GitRepo, text: str, runs: list[RunRef], by_id: dict[str, RunRef]
) -> tuple[str | None, RunRef | None]:
    """The commit ``text`` names, and the run it is a commit of (either may be None)."""
    if len(text) < _SHORTEST_SHA:
        return None, None
    commit = repo.find_commit(text)
    if commit is None:
        return None, None
    for run in runs:
        if run.commit == commit:
            return commit, run
    claimed = by_id.get(_trailer_run(repo, commit))
    if claimed is None or repo.find_commit(claimed.commit) is None:
        return commit, None
    # The trailer is only a claim (a fetched commit can say anything): the commit must be
    # the run's snapshot commit or a record commit on top of it.
    snapshot = _snapshot_of(repo, claimed)
    if commit == snapshot or repo.commit_parents(commit)[:1] == [snapshot]:
        return commit, claimed
    return commit, None


def _trailer_run(repo: GitRepo, commit: str) -> str:
    return record.parse_trailers(repo.commit_message(commit)).get("Gitxp-Run", "")


def _snapshot_of(repo: GitRepo, run: RunRef) -> str:
    """The snapshot commit of ``run``: its ref's commit, or that commit's parent when the
    parent is a commit of the same run."""
    parents = repo.commit_parents(run.commit)  # a record commit: its snapshot first
    if parents and _trailer_run(repo, parents[0]) == run.id:
        return parents[0]
    return run.commit


def damaged_info(run_id: str, problem: str) -> dict[str, Any]:
    """The run.json shown for a damaged run: its id, status DAMAGED and what is wrong."""
    return {"id": run_id, "status": DAMAGED, "damage": problem}


@dataclass
class RunRecord:
    """One run as recorded in its commit; heavier parts are read on first use.

    Nothing in a record is trusted (:mod:`gitxp.store.checked`): a run whose ref is not
    a run commit or whose run.json is malformed loads with :func:`damaged_info`; a
    malformed config, metrics or host file reads as empty. :attr:`damage` says what is
    wrong, and :meth:`require_sound` refuses such a run with that line.
    """

    repo: GitRepo
    ref: RunRef
    info: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, repo: GitRepo, ref: RunRef) -> RunRecord:
        """Read and check the run.json of ``ref``'s commit."""
        try:
            kind = repo.object_kind(ref.commit)
            if kind != "commit":
                raise RecordProblem(f"its ref points at {kind or 'a missing object'}, not a commit")
            info = checked.run_info(read_record_file(repo, ref.commit, "run.json"), ref.id)
        except RunNotFoundError:  # libgit2 cannot parse the commit
            why = "its commit is malformed (git fsck reports it)"
            return cls(repo, ref, damaged_info(ref.id, why), [why])
        except RecordProblem as err:
            return cls(repo, ref, damaged_info(ref.id, str(err)), [str(err)])
        return cls(repo, ref, info)

    @property
    def damage(self) -> str | None:
        """What is wrong with the run's record (all its files read), or None."""
        if not self.problems:
            _ = self.config, self.metrics, self.host
        return self.problems[0] if self.problems else None

    def require_sound(self) -> RunRecord:
        """This record, or DamagedRunError saying in one line what is wrong with it."""
        why = self.damage
        if why is not None:
            name = self.ref.id if is_run_id(self.ref.id) else self.ref.ref
            raise DamagedRunError(
                f"run {self.ref.id} is damaged: {why}; 'gitxp rm {name}' deletes it"
            )
        return self

    def _file(self, name: str) -> bytes | None:
        return self.repo.read_path(self.ref.commit, f"{record.RECORD_DIR}/{name}")

    def _checked(
        self, name: str, parse: Callable[[bytes], Any], missing: Callable[[], Any] = dict
    ) -> Any:
        """``parse`` of the record file ``name`` ({} and a problem noted when it is not
        sound; ``missing()`` when the commit has no such file)."""
        if self.problems and self.info.get("status") == DAMAGED:
            return {}
        try:
            raw = read_record_file(self.repo, self.ref.commit, name)
            return missing() if raw is None else parse(raw)
        except RecordProblem as err:
            self.problems.append(str(err))
            return {}

    @cached_property
    def config(self) -> dict[str, Any]:
        """The resolved config."""
        return dict(self._checked("config.yaml", lambda raw: checked.mapping(raw, "config.yaml")))

    @cached_property
    def metrics(self) -> dict[str, dict[str, list[Any]]]:
        """``{name: {"steps", "values", "timestamps"}}``."""
        return dict(
            self._checked(
                "metrics.json",
                checked.metrics,
                missing=lambda: live_metrics(self.repo, self.ref.commit) or {},
            )
        )

    @cached_property
    def host(self) -> dict[str, Any]:
        """Host facts."""
        return dict(self._checked("host.json", lambda raw: checked.mapping(raw, "host.json")))

    @cached_property
    def env_lock(self) -> str:
        """The env lock text."""
        return (self._file("env.lock") or b"").decode("utf-8", "replace")

    @cached_property
    def output(self) -> str:
        """The captured output."""
        raw = self._file("output.log")
        if raw is None:  # a heartbeat commit (format 2): the chunks so far
            raw = live_output(self.repo, self.ref.commit)
        return (raw or b"").decode("utf-8", "replace")

    @property
    def snapshot_commit(self) -> str:
        """The run's snapshot commit (the first commit of the run); for a damaged run whose
        ref is not a readable commit, that ref's target."""
        commit = self.ref.commit
        try:
            parents = self.repo.commit_parents(commit)
        except RunNotFoundError:
            return commit
        base = self.info.get("base_commit")
        if parents == ([base] if base else []) or not parents:
            return commit
        return parents[0]


def load_sound(repo: GitRepo, spec: str, runs: list[RunRef] | None = None) -> RunRecord:
    """The run named by ``spec`` (see :func:`resolve`), refused if its record is damaged."""
    return RunRecord.load(repo, resolve(repo, spec, runs)).require_sound()


def read_record_file(repo: GitRepo, commit: str, name: str) -> bytes | None:
    """The record file ``name`` of ``commit`` (None: absent); RecordProblem when larger
    than its limit (:data:`gitxp.store.checked.MAX_BYTES`)."""
    try:
        return repo.read_path(
            commit, f"{record.RECORD_DIR}/{name}", max_size=checked.MAX_BYTES.get(name)
        )
    except BlobTooLargeError as err:
        raise RecordProblem(f"{name} is too large ({err.size:,} bytes)") from None

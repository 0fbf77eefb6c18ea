"""What the board's JSON endpoints return: plain data built from the query layer and runs.

Each function takes an open :class:`~gitxp.git.repo.GitRepo` and returns JSON-ready data (the
server maps NaN and infinities, which metrics may hold, before sending). Runs are named
by anything :func:`gitxp.store.runs.resolve` accepts: a full id, a unique prefix, ``latest``.
Files of a run are found only by their exact path in the run's tree: a name that is not
a file of the run is an unknown file, never a path on disk.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from gitxp.board.series import Window, downsample
from gitxp.errors import RunNotFoundError, UsageError
from gitxp.git.repo import RUNS_PREFIX, GitRepo
from gitxp.query.attested import attestation_json
from gitxp.query.listing import STALE_AFTER
from gitxp.store.attestations import attestations_of
from gitxp.store.ids import is_run_id
from gitxp.store.notes import NotesIndex
from gitxp.store.restore import refuse_unsafe, safe_tree_files
from gitxp.store.runs import RunRecord, RunRef, list_runs, record, resolve

ARTIFACTS = f"{record.RECORD_DIR}/artifacts"
MAX_TEXT = 2_000_000  # characters of a file, patch or output shown in the page
MAX_OUTPUT = 1_000_000  # characters of captured output sent (the end of it)
MAX_COMPARE = 12  # runs compared at once
MAX_DIFF_LINES = 20_000  # lines of each output compared
_META_KEYS = (
    "command_name",
    "config_updates",
    "named_configs",
    "options",
    "supervisor",
    "capture",
    "experiment_info",
    "reproduction_of",
    "resumed_from",
)


def display_status(info: Mapping[str, Any], now: float | None = None) -> str:
    """The status, ``PROBABLY_DEAD`` for a RUNNING run whose heartbeat is stale."""
    status = str(info.get("status") or "UNKNOWN")
    beat = record.parse_time(info.get("heartbeat"))
    stale = beat is not None and (now or time.time()) - beat.timestamp() > STALE_AFTER
    if status == "RUNNING" and stale:
        return "PROBABLY_DEAD"
    return status


# -- one run -----------------------------------------------------------------------------


def load(repo: GitRepo, spec: str, runs: list[RunRef] | None = None) -> RunRecord:
    """The run named ``spec``; a damaged one is refused with what is wrong with it."""
    return RunRecord.load(repo, find(repo, spec, runs)).require_sound()


def find(repo: GitRepo, spec: str, runs: list[RunRef] | None = None) -> RunRef:
    """The run named ``spec``: a full run id (what the page sends) is looked up as its ref
    alone, without listing 20,000 refs; anything else as :func:`resolve` names it."""
    if is_run_id(spec):
        target = repo.ref_target(RUNS_PREFIX + spec)
        if target is not None:
            return RunRef(spec, RUNS_PREFIX + spec, target)
    return resolve(repo, spec, runs)


def run_page(repo: GitRepo, notes: NotesIndex, spec: str) -> dict[str, Any]:
    """Everything the run page shows except metrics, output and code (fetched apart)."""
    rec = load(repo, spec)
    info = rec.info
    snapshot = rec.snapshot_commit
    note = notes.note_of(repo, rec.ref.commit, info.get("base_commit"))
    from gitxp.query.frames import read_metrics

    metrics = read_metrics(repo, rec.ref.commit)
    return {
        "id": rec.ref.id,
        "ref": rec.ref.ref,
        "commit": rec.ref.commit,
        "snapshot_commit": snapshot,
        "status": display_status(info),
        "info": info,
        "meta": {k: info[k] for k in _META_KEYS if info.get(k) not in (None, [], {}, "")},
        "config": rec.config,
        "config_docs": info.get("config_docs") or {},
        "host": rec.host,
        "env_lock": rec.env_lock,
        "metrics": {
            name: len(series.get("values") or ()) for name, series in sorted(metrics.items())
        },
        "artifacts": artifacts(repo, rec),
        "run_tags": list(info.get("tags") or []),
        "note_tags": note.tags,
        "note": note.text,
        "output_trace": _output_trace(rec),
        "attestations": [attestation_json(a) for a in attestations_of(repo, rec.ref.id)],
        "now": time.time(),
        "stale_after": STALE_AFTER,
    }


_TRACE_HEAD = "Traceback (most recent call last):"
_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _output_trace(rec: RunRecord) -> str | None:
    """The Python traceback at the end of a failed run's output, when its record holds
    none (a plain script run by ``gitxp run`` records only its exit code)."""
    trace = rec.info.get("fail_trace") or ""
    if rec.info.get("status") not in ("FAILED", "DIED") or _TRACE_HEAD in trace:
        return None
    return traceback_in(rec.output[-MAX_OUTPUT:])


def traceback_in(output: str) -> str | None:
    """The last Python traceback in ``output`` (its chained ones included), or None."""
    lines = output.splitlines()
    plain = [_ANSI.sub("", line) for line in lines]
    heads = [i for i, line in enumerate(plain) if line.lstrip().startswith(_TRACE_HEAD)]
    if not heads:
        return None
    start = heads[-1]
    for earlier in reversed(heads[:-1]):
        between = "\n".join(plain[earlier:start])
        if not any(marker in between for marker in _CHAINED):
            break
        start = earlier
    indent = len(plain[heads[-1]]) - len(plain[heads[-1]].lstrip())
    end = heads[-1] + 1
    while end < len(plain) and (plain[end][: indent + 1].strip() == "" and plain[end].strip()):
        end += 1  # the frames: indented below the last header
    while end < len(plain) and plain[end].strip():
        end += 1  # the exception and its message
    return "\n".join(lines[start:end][:400])


def artifacts(repo: GitRepo, rec: RunRecord) -> list[dict[str, Any]]:
    """The files under ``.gitxp/artifacts/`` of the run: name, size, content type."""
    listed = {str(a.get("name")): a for a in rec.info.get("artifacts") or () if isinstance(a, dict)}
    out = []
    for path, _oid, _mode in repo.walk_files(rec.ref.commit, ARTIFACTS):
        name = path[len(ARTIFACTS) + 1 :]
        entry = listed.get(name, {})
        out.append(
            {
                "name": name,
                "size": entry.get("size"),
                "content_type": entry.get("content_type"),
                "metadata": entry.get("metadata") or {},
            }
        )
    return out


def metrics_of(repo: GitRepo, specs: list[str], window: Window | None = None) -> dict[str, Any]:
    """``{"runs": {id: {name: series}}}`` of the runs ``specs``, each series cut to
    ``window`` by :func:`gitxp.board.series.downsample` (with its total and summary)."""
    from gitxp.query.frames import read_metrics

    out: dict[str, Any] = {}
    for spec in specs[:MAX_COMPARE]:
        ref = find(repo, spec)
        series = read_metrics(repo, ref.commit)
        out[ref.id] = {
            name: downsample(s, window or Window()) for name, s in sorted(series.items())
        }
    return {"runs": out}


@dataclass(frozen=True)
class Output:
    """Captured output: a key that changes when it does, the text (its end), its length."""

    key: str
    text: str
    length: int
    live: bool


def output_of(repo: GitRepo, spec: str) -> Output:
    """The run's captured output; while it runs on this machine, from its spool (live)."""
    rec = load(repo, spec)
    if rec.info.get("status") == "RUNNING":
        live = _spool_output(repo, rec.ref.id)
        if live is not None:
            return live
    text = rec.output
    return Output(rec.ref.commit, text[-MAX_OUTPUT:], len(text), False)


def _spool_output(repo: GitRepo, run_id: str) -> Output | None:
    from gitxp.store.recorder import spool_root
    from gitxp.store.textlog import apply_control_chars

    path = spool_root(repo) / run_id / "output.log"
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = max(0, size - 4 * MAX_OUTPUT)
            handle.seek(start)
            data = handle.read()
    except OSError:
        return None
    text = apply_control_chars(data.decode("utf-8", "replace"))
    return Output(f"spool-{size}", text[-MAX_OUTPUT:], len(text) + start, True)


# -- files of a run -----------------------------------------------------------------------


def source_files(repo: GitRepo, spec: str) -> dict[str, Any]:
    """The run's source files (its snapshot without ``.gitxp/``): path and mode."""
    from gitxp.store.restore import source_tree

    rec = load(repo, spec)
    files = repo.tree_files(source_tree(repo, rec))
    return {
        "files": [{"path": p, "mode": f"{m:o}"} for p, (_oid, m) in sorted(files.items())],
        "skipped": rec.info.get("skipped_files") or [],
    }


def source_blob(repo: GitRepo, spec: str, path: str) -> tuple[str, bytes]:
    """The bytes of the run's source file at exactly ``path``."""
    from gitxp.store.restore import source_tree

    rec = load(repo, spec)
    refuse_unsafe(rec, [path])
    found = safe_tree_files(repo, rec, source_tree(repo, rec)).get(path)
    if found is None or found[1] == 0o160000:
        raise FileNotInRunError(f"run {rec.ref.id[:12]} has no source file {path!r}")
    return path.rsplit("/", 1)[-1], repo.blob_data(found[0])


def artifact_blob(repo: GitRepo, spec: str, name: str) -> tuple[str, bytes]:
    """The bytes of the run's artifact ``name`` (its exact path below ``artifacts/``)."""
    rec = load(repo, spec)
    refuse_unsafe(rec, [name], "artifact")
    wanted = f"{ARTIFACTS}/{name}"
    for path, oid, _mode in repo.walk_files(rec.ref.commit, ARTIFACTS):
        if path == wanted:
            return name.rsplit("/", 1)[-1], repo.blob_data(oid)
    raise FileNotInRunError(f"run {rec.ref.id[:12]} has no artifact {name!r}")


class FileNotInRunError(RunNotFoundError):
    """A file name that is not a file of the run."""


def as_text(data: bytes) -> str | None:
    """``data`` as text, or None when it looks binary."""
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def file_view(name: str, data: bytes) -> dict[str, Any]:
    """A file for the page: its text (cut at :data:`MAX_TEXT`) or a note that it is binary."""
    text = as_text(data)
    return {
        "name": name,
        "size": len(data),
        "binary": text is None,
        "text": None if text is None else text[:MAX_TEXT],
        "truncated": text is not None and len(text) > MAX_TEXT,
    }


# -- code: what was uncommitted, run against run --------------------------------------------


def code_changes(repo: GitRepo, spec: str) -> dict[str, Any]:
    """The diff from the run's base commit to its snapshot: what was uncommitted."""
    from gitxp.store.restore import source_tree

    rec = load(repo, spec)
    info = rec.info
    base = info.get("base_commit")
    out: dict[str, Any] = {
        "base": base,
        "branch": info.get("branch"),
        "dirty": info.get("dirty"),
        "skipped": info.get("skipped_files") or [],
    }
    if base and not repo.has_commit(base):
        return {**out, "available": False, "why": f"base commit {base[:12]} is not here"}
    old = repo.without_entry(repo.commit_tree(base), record.RECORD_DIR) if base else None
    diff = repo.diff_trees(old, source_tree(repo, rec))
    return {**out, "available": True, **_code_json(diff.files, diff.patch)}


def _code_json(files: list[Any], patch: str) -> dict[str, Any]:
    return {
        "files": [asdict(f) for f in files],
        "patch": patch[:MAX_TEXT],
        "truncated": len(patch) > MAX_TEXT,
    }


def compare(repo: GitRepo, specs: list[str]) -> dict[str, Any]:
    """The runs ``specs`` side by side: labels, and every config key with its values."""
    if len(specs) < 2:
        raise UsageError("choose two or more runs to compare")
    if len(specs) > MAX_COMPARE:
        raise UsageError(f"compare at most {MAX_COMPARE} runs at once")
    recs = list({r.ref.id: r for r in (load(repo, s) for s in specs)}.values())
    flats = [dict(flatten(r.config)) for r in recs]
    keys = sorted(set().union(*flats))
    rows = []
    for key in keys:
        present = [key in f for f in flats]
        values = [f.get(key) for f in flats]
        first = values[0]
        differs = not all(present) or any(_differ(first, v) for v in values[1:])
        rows.append({"key": key, "values": values, "present": present, "differs": differs})
    return {"runs": [_label(r) for r in recs], "config": rows}


def _differ(a: Any, b: Any) -> bool:
    return type(a) is not type(b) or bool(a != b and not (a != a and b != b))


def _label(rec: RunRecord) -> dict[str, Any]:
    info = rec.info
    return {
        "id": rec.ref.id,
        "experiment": info.get("experiment"),
        "name": info.get("name"),
        "status": display_status(info),
        "start_time": info.get("start_time"),
        "result": info.get("result"),
    }


def flatten(config: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted.key, leaf)`` pairs of a config, in order (an empty dict is a leaf)."""
    out: list[tuple[str, Any]] = []
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out += flatten(value, path + ".")
        else:
            out.append((path, value))
    return out


def pair_diff(repo: GitRepo, spec_a: str, spec_b: str) -> dict[str, Any]:
    """Run ``a`` against run ``b``: :func:`gitxp.query.diff.run_diff` plus the output diff."""
    from gitxp.query.diff import run_diff

    a, b = load(repo, spec_a), load(repo, spec_b)
    data = run_diff(repo, a, b, patch=True)
    code = data["code"]
    patch = str(code.get("patch") or "")
    code["patch"], code["truncated"] = patch[:MAX_TEXT], len(patch) > MAX_TEXT
    lines_a = a.output.splitlines()[-MAX_DIFF_LINES:]
    lines_b = b.output.splitlines()[-MAX_DIFF_LINES:]
    output = "\n".join(
        difflib.unified_diff(
            lines_a, lines_b, f"{a.ref.id[:10]}/output.log", f"{b.ref.id[:10]}/output.log", n=2
        )
    )
    data["output"] = {"patch": output[:MAX_TEXT], "truncated": len(output) > MAX_TEXT}
    data["env_lock"] = {"a": a.env_lock, "b": b.env_lock}
    return data


# -- writes ---------------------------------------------------------------------------------


def save_note(
    repo: GitRepo, notes: NotesIndex, spec: str, tags: list[object], text: str
) -> dict[str, Any]:
    """Store the tags and note of a run (as a git note on its snapshot commit)."""
    rec = load(repo, spec)
    stored = notes.write(repo, rec.snapshot_commit, tags, text)
    return {
        "id": rec.ref.id,
        "snapshot_commit": rec.snapshot_commit,
        "note_tags": stored.tags,
        "note": stored.text,
        "run_tags": list(rec.info.get("tags") or []),
    }


def delete(repo: GitRepo, specs: list[str], force: bool = False) -> dict[str, Any]:
    """Delete the runs ``specs`` (their refs) as ``gitxp rm`` does."""
    from gitxp.store.prune import remove_runs

    if not specs:
        raise UsageError("choose the runs to delete")
    runs = list_runs(repo)
    chosen = (RunRecord.load(repo, resolve(repo, s, runs)) for s in specs)
    recs = list({r.ref.id: r for r in chosen}.values())
    removed = remove_runs(repo, recs, force=force)
    gone = {r.ref.id for r in removed}
    return {"deleted": sorted(gone), "kept": [r.ref.id for r in recs if r.ref.id not in gone]}

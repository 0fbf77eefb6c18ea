"""Hooks: the git ``pre-push`` hook gitxp installs, and the user's pre-run/post-run hooks.

**Git hook.** ``gitxp hooks install`` writes ``pre-push`` into the repository's hooks
folder (``core.hooksPath`` if set, else ``<git-dir>/hooks``). A ``pre-push`` that is
already there is never overwritten: it is renamed ``pre-push.gitxp-chained`` and gitxp's
hook runs it first, with the same arguments and input, and stops the push if it fails.
``gitxp hooks uninstall`` puts it back. The hook runs ``gitxp push --quiet URL`` towards
the remote ``git push`` is pushing to; a failure to push runs prints a warning and
never blocks the user's ``git push``.

**User hooks.** Executables in ``.gitxp-hooks/`` at the top of the working tree (or in
the folder ``git config gitxp.hooksDir`` names), run by the run's supervisor:

- ``pre-run`` and every executable in ``pre-run.d/`` (by name), after the snapshot
  commit, before the user's code. A non-zero exit *vetoes* the run: its ref is deleted
  (no run is left behind; the objects go at the next ``git gc``), the hook's output is
  the error message and ``gitxp run`` exits with status 1.
- ``post-run`` and ``post-run.d/*`` after the final record commit (and after an
  automatic push). Their exit status is reported, never changes the run.

They start in the top of the working tree with stdin closed and get ``GITXP_HOOK``,
``GITXP_RUN_ID``, ``GITXP_RUN_REF``, ``GITXP_SNAPSHOT_COMMIT``, ``GITXP_REPO``,
``GITXP_COMMAND``; pre-run hooks also ``GITXP_SPOOL`` (so ``gitxp.add_info`` and friends
record into the run), post-run hooks ``GITXP_STATUS``, ``GITXP_EXIT_CODE`` and
``GITXP_RUN_COMMIT``. This module uses the standard library only.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from gitxp.errors import GitxpError, UsageError
from gitxp.git.repo import GitRepo

if TYPE_CHECKING:
    from gitxp.store.recorder import Recorder

MARK = "# gitxp-hook"
CHAINED_SUFFIX = ".gitxp-chained"
USER_HOOKS_DIR = ".gitxp-hooks"
HOOKS_DIR_CONFIG = "gitxp.hooksDir"
GIT_HOOKS = ("pre-push",)

PRE_PUSH = """\
#!/bin/sh
# gitxp-hook: pre-push, installed by 'gitxp hooks install' ('gitxp hooks uninstall' removes it)
#
# Pushes this repository's gitxp runs (refs/gitxp/runs/*) to the remote 'git push'
# pushes to, alongside your branches. A pre-push hook that was here before was renamed
# pre-push.gitxp-chained: it runs first, gets the same input, and can still stop the push.
# Skip pushing runs with GITXP_NO_PRE_PUSH=1 or 'git config gitxp.prePush false'.

chained="$(dirname -- "$0")/pre-push.gitxp-chained"
if [ -x "$chained" ]; then
    input=$(mktemp) || exit 1  # in $TMPDIR, else /tmp
    cat >"$input"
    "$chained" "$@" <"$input"
    status=$?
    rm -f "$input"
    [ "$status" -eq 0 ] || exit "$status"
fi

[ -n "$GITXP_NO_PRE_PUSH" ] && exit 0
[ "$(git config --bool gitxp.prePush)" = false ] && exit 0

# gitxp talks to the remote itself; git's variables for this hook must not steer it.
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_PREFIX GIT_OBJECT_DIRECTORY GIT_COMMON_DIR

gitxp_python=@PYTHON@
run_gitxp() {
    if [ -n "$gitxp_python" ] && [ -x "$gitxp_python" ]; then
        "$gitxp_python" -m gitxp "$@"
    else
        gitxp "$@"
    fi
}

# $1 is the remote's name (its URL when it has none), $2 the URL git pushes to.
run_gitxp push --quiet "$2" </dev/null ||
    echo "gitxp: warning: runs were not pushed; 'gitxp push' retries" >&2
exit 0
"""


def pre_push_script(python: str | None = None) -> str:
    """The ``pre-push`` hook; ``python`` is the interpreter that runs gitxp (None: PATH)."""
    return PRE_PUSH.replace("@PYTHON@", shlex.quote(python) if python else "''")


# -- git hooks -------------------------------------------------------------------------


def git_hooks_dir(repo: GitRepo) -> Path:
    """Where git looks for hooks: ``core.hooksPath`` (relative to the top of the working
    tree, as git reads it) or ``<git-dir>/hooks``."""
    configured = repo.config_value("core.hooksPath")
    if configured:
        path = Path(os.path.expanduser(configured))
        return path if path.is_absolute() else repo.workdir / path
    return repo.common_dir / "hooks"


def _is_ours(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return MARK in handle.read(4096)
    except OSError:
        return False


def install(repo: GitRepo, python: str | None = sys.executable) -> list[str]:
    """Install gitxp's git hooks, chaining any hook already there; returns what it did."""
    folder = git_hooks_dir(repo)
    folder.mkdir(parents=True, exist_ok=True)
    done = []
    for name in GIT_HOOKS:
        path = folder / name
        chained = folder / (name + CHAINED_SUFFIX)
        if path.exists() and not _is_ours(path):
            if chained.exists():
                raise UsageError(
                    f"{path} is not gitxp's and {chained.name} already exists; "
                    "merge them by hand, then run 'gitxp hooks install' again"
                )
            path.rename(chained)
            done.append(f"kept your {name} hook as {chained} (it runs first)")
        verb = "updated" if path.exists() else "installed"
        temporary = path.with_name(f".{name}.gitxp-tmp")
        temporary.write_text(pre_push_script(python))
        temporary.chmod(temporary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        temporary.replace(path)
        done.append(f"{verb} {path}")
    return done


def uninstall(repo: GitRepo) -> list[str]:
    """Remove gitxp's git hooks and put chained hooks back; returns what it did."""
    folder = git_hooks_dir(repo)
    done = []
    for name in GIT_HOOKS:
        path = folder / name
        chained = folder / (name + CHAINED_SUFFIX)
        if path.exists() and _is_ours(path):
            path.unlink()
            done.append(f"removed {path}")
        if chained.exists() and not path.exists():
            chained.rename(path)
            done.append(f"restored your {name} hook")
    return done


# -- user hooks around a run -----------------------------------------------------------------


class RunVetoedError(GitxpError):
    """A pre-run hook refused the run."""

    exit_code = 1


@dataclass(frozen=True)
class RunHookContext:
    """What a run's hooks are told about it."""

    run_id: str
    ref: str
    snapshot_commit: str
    command: list[str]
    spool: Path | None = None


def user_hooks_dir(repo: GitRepo) -> Path:
    """The folder of the user's run hooks (``gitxp.hooksDir`` or ``.gitxp-hooks``)."""
    configured = repo.config_value(HOOKS_DIR_CONFIG)
    path = Path(os.path.expanduser(configured)) if configured else Path(USER_HOOKS_DIR)
    return path if path.is_absolute() else repo.workdir / path


def user_hooks(repo: GitRepo, stage: str) -> list[Path]:
    """The executables of ``stage`` (pre-run, post-run), in the order they run."""
    folder = user_hooks_dir(repo)
    found = [folder / stage] if (folder / stage).is_file() else []
    extra = folder / f"{stage}.d"
    if extra.is_dir():
        found += sorted(
            p
            for p in extra.iterdir()
            if p.is_file() and not p.name.startswith(".") and not p.name.endswith("~")
        )
    return found


def _env(repo: GitRepo, stage: str, ctx: RunHookContext, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GITXP_HOOK=stage,
        GITXP_RUN_ID=ctx.run_id,
        GITXP_RUN_REF=ctx.ref,
        GITXP_SNAPSHOT_COMMIT=ctx.snapshot_commit,
        GITXP_REPO=str(repo.workdir),
        GITXP_COMMAND=shlex.join(ctx.command),
        **extra,
    )
    if ctx.spool is None:
        env.pop("GITXP_SPOOL", None)
    else:
        env["GITXP_SPOOL"] = str(ctx.spool)
    return env


def _run_hook(repo: GitRepo, hook: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run one hook; returns its exit status and its output (stdout and stderr)."""
    shown = os.path.relpath(hook, repo.workdir)
    if not os.access(hook, os.X_OK):
        return 0, f"gitxp: warning: hook {shown} is not executable (chmod +x it); skipped"
    try:
        proc = subprocess.run(
            [str(hook)],
            cwd=repo.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except OSError as err:
        return 126, f"cannot start {shown}: {err.strerror}"
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def run_pre_run_hooks(repo: GitRepo, ctx: RunHookContext) -> None:
    """Run the pre-run hooks; the first that exits non-zero raises RunVetoedError.

    Their output goes to stderr (the terminal), the veto's output into the error.
    """
    hooks = user_hooks(repo, "pre-run")
    if not hooks:
        return
    env = _env(repo, "pre-run", ctx, {})
    for hook in hooks:
        code, output = _run_hook(repo, hook, env)
        shown = os.path.relpath(hook, repo.workdir)
        if code != 0:
            lines = [line.strip() for line in output.splitlines() if line.strip()]
            message = " | ".join(lines)[-500:] or f"exit status {code}"
            raise RunVetoedError(f"run vetoed by pre-run hook {shown}: {message}")
        if output:
            sys.stderr.write(output if output.endswith("\n") else output + "\n")


def run_post_run_hooks(
    repo: GitRepo, ctx: RunHookContext, status: str, exit_code: int | None, commit: str
) -> None:
    """Run the post-run hooks; a failing one is reported, never raised."""
    hooks = user_hooks(repo, "post-run")
    if not hooks:
        return
    env = _env(
        repo,
        "post-run",
        replace(ctx, spool=None),  # the spool is gone once the run is recorded
        {
            "GITXP_STATUS": status,
            "GITXP_EXIT_CODE": "" if exit_code is None else str(exit_code),
            "GITXP_RUN_COMMIT": commit,
        },
    )
    for hook in hooks:
        code, output = _run_hook(repo, hook, env)
        if output:
            sys.stderr.write(output if output.endswith("\n") else output + "\n")
        if code != 0:
            shown = os.path.relpath(hook, repo.workdir)
            print(f"gitxp: warning: post-run hook {shown} exited {code}", file=sys.stderr)


def start_hooks(repo: GitRepo, recorder: Recorder, command: list[str]) -> RunHookContext:
    """After the snapshot commit: run the pre-run hooks; a veto deletes the run and raises."""
    ctx = RunHookContext(
        recorder.run_id, recorder.ref, recorder.snapshot_commit, command, recorder.spool.path
    )
    try:
        run_pre_run_hooks(repo, ctx)
    except RunVetoedError:
        repo.delete_ref(recorder.ref, old=recorder.head)
        recorder.close_queued()  # releases the run and removes its spool
        raise
    return ctx


def finish_hooks(
    repo: GitRepo,
    ctx: RunHookContext,
    status: str,
    exit_code: int | None,
    commit: str,
    push: str | None = None,
) -> None:
    """After the final record commit: push the run if asked, then the post-run hooks.

    ``push`` is ``--push [REMOTE]``; without it ``git config gitxp.autopush REMOTE``
    decides. A failed push only prints a warning; the next ``gitxp push`` sends the run.
    """
    target = push if push is not None else repo.config_value("gitxp.autopush")
    if target is not None and target.lower() not in ("false", "no", "off", "0"):
        from gitxp.share.sync import push_after_run

        remote = None if target.lower() in ("", "true", "yes", "on", "1") else target
        print(push_after_run(repo, ctx.run_id, remote), file=sys.stderr, flush=True)
    run_post_run_hooks(repo, ctx, status, exit_code, commit)

"""Signing commits as ``git commit -S`` does, and reading what git says of a signature.

gitxp builds a commit's text with libgit2, has it signed by the program git would call
and stores the signature in the commit's ``gpgsig`` header, so ``git verify-commit``
and ``git log --show-signature`` check it like any signed commit. The settings are git's:

- ``gpg.format``: ``openpgp`` (default), ``ssh`` or ``x509``;
- ``user.signingkey``: the key (ssh: a key file, or ``key::ssh-ed25519 AAAA…`` for a key
  in the agent; openpgp: a key id, default the committer's email);
- ``gpg.program``, ``gpg.ssh.program``, ``gpg.x509.program``: the programs to run.

ssh signatures are made with ``ssh-keygen -Y sign -n git``, openpgp ones with
``gpg --status-fd=2 -bsau KEY`` (x509 with ``gpgsm`` the same way), exactly the calls of
git's ``gpg-interface.c``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gitxp.errors import UsageError

__all__ = ["SignatureStatus", "sign_payload", "wants_signing"]

SIGN_TIMEOUT = 120.0  # a passphrase prompt (pinentry) may take a while
_TRUE = ("true", "yes", "on", "1")


class Config(Protocol):
    """What signing reads of the repository: git config values."""

    def config_value(self, key: str) -> str | None: ...


@dataclass(frozen=True)
class SignatureStatus:
    """What git says of a commit's signature (``git log --format=%G?``).

    ``code``: G good, U good with unknown validity, X/Y good but expired (signature/key),
    R good but revoked key, B bad, E cannot be checked (no key, no allowed signers), N none.
    """

    code: str
    signer: str
    key: str
    message: str

    @property
    def good(self) -> bool:
        """A signature that is valid for the commit's content (G or U)."""
        return self.code in ("G", "U")


def wants_signing(repo: Config, sign: bool | None) -> bool:
    """``sign`` when given, else the ``gitxp.sign`` setting."""
    if sign is not None:
        return sign
    return (repo.config_value("gitxp.sign") or "").strip().lower() in _TRUE


def sign_payload(repo: Config, payload: str, committer_email: str) -> str:
    """The signature git would write for a commit whose text is ``payload``."""
    kind = (repo.config_value("gpg.format") or "openpgp").strip().lower()
    key = (repo.config_value("user.signingkey") or "").strip()
    if kind == "ssh":
        return _ssh_sign(repo, payload, key)
    if kind not in ("openpgp", "x509"):
        raise UsageError(f"gpg.format {kind!r}: gitxp signs with openpgp, ssh or x509")
    default = "gpgsm" if kind == "x509" else "gpg"
    program = repo.config_value(f"gpg.{kind}.program") or repo.config_value("gpg.program")
    command = [program or default, "--status-fd=2", "-bsau", key or committer_email]
    proc = _run(command, payload.encode(), "gpg")
    signature = proc.stdout.decode()
    if "-----BEGIN" not in signature:
        raise UsageError(f"{command[0]} made no signature; check user.signingkey ({key or '-'})")
    return signature


def _ssh_sign(repo: Config, payload: str, key: str) -> str:
    if not key:
        raise UsageError(
            "gpg.format is ssh but user.signingkey is not set; "
            "git config user.signingkey ~/.ssh/id_ed25519.pub"
        )
    program = repo.config_value("gpg.ssh.program") or "ssh-keygen"
    import tempfile  # not on the path of a run that signs nothing

    with tempfile.TemporaryDirectory(prefix="gitxp-sign-") as folder:
        buffer = Path(folder) / "payload"
        buffer.write_text(payload)
        if key.startswith(("key::", "ssh-")):  # a literal public key: its secret is in the agent
            literal = Path(folder) / "key.pub"
            literal.write_text(key.removeprefix("key::") + "\n")
            command = [program, "-Y", "sign", "-n", "git", "-f", str(literal), "-U", str(buffer)]
        else:
            path = os.path.expanduser(key)
            command = [program, "-Y", "sign", "-n", "git", "-f", path, str(buffer)]
        _run(command, b"", "ssh-keygen")
        try:
            return (Path(folder) / "payload.sig").read_text()
        except OSError:
            raise UsageError(f"{program} wrote no signature for key {key}") from None


def _run(command: list[str], data: bytes, what: str) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(command, input=data, capture_output=True, timeout=SIGN_TIMEOUT)
    except FileNotFoundError:
        raise UsageError(f"cannot sign: {command[0]} is not installed (gpg.format)") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"cannot sign: {command[0]} did not answer in time") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        why = lines[-1] if lines else f"exit status {proc.returncode}"
        raise UsageError(f"cannot sign with {what}: {why}; check user.signingkey")
    return proc

"""``gitxp verify RUN``: check the signatures of a run's commits and of its attestations.

git checks each signature with its own settings (``gpg.ssh.allowedSignersFile`` for ssh,
the gpg keyring for openpgp), through ``git log --format=%G?``, so ``gitxp verify``
accepts exactly what ``git verify-commit`` accepts and names who signed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitxp.git.repo import GitRepo
from gitxp.git.signing import SignatureStatus
from gitxp.store.attestations import ATTEST_PREFIX, parse_attestation_ref
from gitxp.store.runs import RunRecord, resolve

_SAYS = {
    "G": "good signature",
    "U": "good signature (key of unknown validity)",
    "X": "good signature, expired",
    "Y": "good signature, expired key",
    "R": "good signature, revoked key",
    "B": "BAD signature: the commit is not what was signed",
    "E": "signature cannot be checked",
    "N": "not signed",
}


@dataclass(frozen=True)
class Signed:
    """One commit checked: what it is, its id, and what git says of its signature."""

    what: str
    commit: str
    status: SignatureStatus

    def line(self) -> str:
        """``  snapshot commit 1a2b3c4d5e  good signature by …``."""
        status = self.status
        text = _SAYS.get(status.code, f"signature status {status.code}")
        if status.code in "GUXYR" and status.signer:
            text += f" by {status.signer}"
        if status.key and status.code != "N":
            text += f" (key {status.key})"
        if status.code == "E" and status.message:
            text += f": {status.message.splitlines()[-1]}"
        return f"  {self.what:<28} {self.commit[:10]}  {text}"


@dataclass
class VerifyReport:
    """Every signature of a run and of the attestations that speak of it."""

    run_id: str
    items: list[Signed] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every commit is signed and every signature is good."""
        return bool(self.items) and all(item.status.good for item in self.items)

    def text(self) -> str:
        """What ``gitxp verify`` prints."""
        good = sum(item.status.good for item in self.items)
        verdict = "verified" if self.ok else "NOT verified"
        lines = [f"run {self.run_id}", *(i.line() for i in self.items)]
        lines.append(f"{verdict}: {good} of {len(self.items)} signatures good")
        return "\n".join(lines)


def verify(repo: GitRepo, spec: str) -> VerifyReport:
    """Check the run ``spec`` names: its snapshot and record commits, and every
    attestation ref that names it (as the run reproduced or as the reproduction)."""
    rec = RunRecord.load(repo, resolve(repo, spec))
    report = VerifyReport(rec.ref.id)
    commits = [("snapshot commit", rec.snapshot_commit)]
    if rec.ref.commit != rec.snapshot_commit:
        commits.append(("record commit", rec.ref.commit))
    for ref, commit in sorted(repo.refs(ATTEST_PREFIX).items()):
        ids = parse_attestation_ref(ref)
        if ids is None or rec.ref.id not in ids:
            continue
        if ids[0] == rec.ref.id:
            commits.append((f"attestation by {ids[1][:12]}", commit))
        else:
            commits.append((f"attestation of {ids[0][:12]}", commit))
    for what, commit in commits:
        report.items.append(Signed(what, commit, repo.signature_status(commit)))
    return report

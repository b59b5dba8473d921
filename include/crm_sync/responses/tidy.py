"""Optionally delete or move response files on the server once they are imported (off by default).

Only files whose current content (sha256, read from the server: a name and a size say nothing)
the ledger has as applied, or as a duplicate of applied content, are touched; anything else stays
for the next run. (A file rewritten between that read and the delete or move cannot be told
apart: SFTP has no compare-and-delete; the platform writes a file once.) ``after_import: move``
renames them into ``move_to`` (created if missing); a file already there is left alone and
reported. Safe to re-run.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass

import sqlalchemy as sa

from include.crm_sync.responses.download import fingerprint
from include.crm_sync.responses.importer import is_imported, known_names
from include.crm_sync.responses.remote import SftpClient, list_remote_files
from include.crm_sync.responses.settings import ResponseImportSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TidyAction:
    file_name: str
    action: str  # deleted | moved | kept
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"file_name": self.file_name, "action": self.action, "detail": self.detail}


def tidy_remote_files(
    engine: sa.Engine, client: SftpClient, settings: ResponseImportSettings, *, dry_run: bool = False
) -> list[TidyAction]:
    if settings.after_import == "keep":
        log.info("after_import is keep: imported files stay on the server (the platform deletes them itself)")
        return []
    remotes = list_remote_files(client, settings.remote_dir, settings.file_pattern)
    known = known_names(engine, (r.name for r in remotes))
    actions = []
    target_ready = False
    for remote in remotes:
        if remote.name not in known:
            continue
        sha256 = fingerprint(client, remote).sha256
        if not is_imported(engine, remote.name, sha256):
            log.warning(
                "%s: its content (sha256 %s) was not imported yet; left in place", remote.name, sha256[:12]
            )
            continue
        if dry_run:
            actions.append(TidyAction(remote.name, "kept", f"dry run: would be {settings.after_import}d"))
            continue
        if settings.after_import == "delete":
            client.remove(remote.path)
            actions.append(TidyAction(remote.name, "deleted"))
            continue
        assert settings.move_to is not None
        if not target_ready:
            _ensure_folder(client, settings.move_to)
            target_ready = True
        target = posixpath.join(settings.move_to, remote.name)
        try:
            client.rename(remote.path, target)
        except OSError as exc:  # SFTP rename never overwrites: moved before, or a name clash
            actions.append(TidyAction(remote.name, "kept", f"could not move to {target}: {exc}"))
            log.warning("%s: could not move to %s (%s); left in place", remote.name, target, exc)
            continue
        actions.append(TidyAction(remote.name, "moved", target))
    log.info("after import: %s", ", ".join(f"{a.file_name} {a.action}" for a in actions) or "nothing to do")
    return actions


def _ensure_folder(client: SftpClient, folder: str) -> None:
    try:
        client.stat(folder)
        return
    except OSError:
        pass
    parent = posixpath.dirname(folder.rstrip("/"))
    if parent and parent != folder:
        _ensure_folder(client, parent)
    client.mkdir(folder)

"""SFTP hook for the campaign platform's response files (connection ``optimizely_sftp_default``).

A thin layer over the SFTP provider's ``SFTPHook`` (paramiko) that enforces the project's host key
policy: the server's key must be known before connecting. Connection fields:

==============  ==========================================================================
host, port      the platform's SFTP server
login           SFTP user
password        its password (or extra ``private_key`` / ``key_file`` for key authentication)
extra           JSON: ``host_key`` (the server's public key, ``ssh-ed25519 AAAA...``: pinned; without
                it the worker's ``~/.ssh/known_hosts`` must know the server), optional
                ``conn_timeout``, ``look_for_keys``. ``no_host_key_check`` and
                ``allow_host_key_change`` are refused unless ``CRM_SYNC_DEMO_MODE=1``.
==============  ==========================================================================

Example (environment variable, JSON form; the emulator prints the key line to pin)::

    AIRFLOW_CONN_OPTIMIZELY_SFTP_DEFAULT='{"conn_type": "sftp", "host": "sftp.campaign.example",
        "port": 22, "login": "responses", "password": "...",
        "extra": {"host_key": "ssh-ed25519 AAAAC3Nza...", "look_for_keys": "false"}}'

An unknown or changed host key makes the connection fail (paramiko refuses it): never accepted
silently. Connection attempts are not retried inside the hook (``conn_retry_attempts=1``): the
task's retries with exponential backoff do that, visibly.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.providers.sftp.hooks.sftp import SFTPHook

#: set to 1/true only for the local demo: lets a connection skip the host key check
DEMO_MODE_ENV = "CRM_SYNC_DEMO_MODE"


class InsecureHostKeyPolicyError(ValueError):
    """The connection asks to skip or relax host key checking outside demo mode."""


def demo_mode() -> bool:
    return os.environ.get(DEMO_MODE_ENV, "").strip().lower() in ("1", "true", "yes")


class OptimizelySftpHook(SFTPHook):
    """``SFTPHook`` on ``optimizely_sftp_default`` that refuses to connect without host key checking."""

    default_conn_name = "optimizely_sftp_default"
    hook_name = "Optimizely Campaign SFTP"

    def __init__(self, ssh_conn_id: str | None = default_conn_name, **kwargs: Any) -> None:
        kwargs.setdefault("conn_retry_attempts", 1)
        super().__init__(ssh_conn_id=ssh_conn_id, **kwargs)
        self.check_host_key_policy()

    def check_host_key_policy(self) -> None:
        relaxed = [
            name
            for name, on in (
                ("no_host_key_check", self.no_host_key_check),
                ("allow_host_key_change", self.allow_host_key_change),
            )
            if on
        ]
        if relaxed and not demo_mode():
            raise InsecureHostKeyPolicyError(
                f"connection {self.ssh_conn_id!r} sets {' and '.join(relaxed)}: "
                "an unknown or changed server key "
                "would be accepted (man in the middle). Pin the server's key in the extra 'host_key' instead "
                f"(only the local demo may skip the check, with {DEMO_MODE_ENV}=1)"
            )
        if self.host_key is not None:
            self.log.info(
                "SFTP %s:%s: host key pinned (%s)", self.remote_host, self.port, self.host_key.get_name()
            )
        elif not relaxed:
            self.log.info(
                "SFTP %s:%s: no host key pinned; the server must be in the worker's known_hosts",
                self.remote_host,
                self.port,
            )

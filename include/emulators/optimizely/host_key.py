"""The SFTP server's host key: generated once, kept in a file, identified by its fingerprint.

``load_or_create_host_key(path)`` reads an Ed25519 private key (OpenSSH format) from ``path``, or
generates one and writes it there (mode 0600, written to a temporary name and renamed, so a crash
never leaves half a key) when the file does not exist. The same file gives the same key on every
start, which is what lets clients pin it. Without a path the key lives in memory only (tests).

What a client pins is printed by the CLI and available here:

* ``fingerprint(key)``: ``SHA256:<base64>``, as ``ssh-keygen -lf`` and ``ssh`` show it;
* ``public_key_line(key)``: ``ssh-ed25519 AAAA...``, the value of the Airflow SSH/SFTP
  connection's ``host_key`` extra (and of a known_hosts line after the host name).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def generate_host_key() -> paramiko.PKey:
    """A fresh Ed25519 host key (in memory)."""
    pem = _openssh_private_bytes(Ed25519PrivateKey.generate())
    return paramiko.Ed25519Key(file_obj=io.StringIO(pem.decode("ascii")))


def load_or_create_host_key(path: str | Path | None) -> paramiko.PKey:
    """The key stored at ``path``; generated and stored there first if the file is missing."""
    if path is None:
        return generate_host_key()
    path = Path(path).expanduser()
    if path.exists():
        return _load(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = _openssh_private_bytes(Ed25519PrivateKey.generate())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        try:
            # Two emulators starting at once: the first to link wins, the second loads its key.
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return _load(path)


def _load(path: Path) -> paramiko.PKey:
    text = path.read_text(encoding="ascii")
    errors = []
    for key_class in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return key_class(file_obj=io.StringIO(text))
        except (paramiko.SSHException, ValueError) as exc:
            errors.append(f"{key_class.__name__}: {exc}")
    raise ValueError(
        f"{path}: not a readable unencrypted Ed25519, ECDSA or RSA private key ({'; '.join(errors)})"
    )


def _openssh_private_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:...`` of the public key blob, the format OpenSSH prints."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def public_key_line(key: paramiko.PKey) -> str:
    """``<type> <base64 blob>``: what a client pins (Airflow connection extra ``host_key``)."""
    return f"{key.get_name()} {key.get_base64()}"

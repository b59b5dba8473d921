"""Local stand-in of Mailjet's v3 REST and DATA API (contact lists, contacts, list memberships, the
four membership actions, asynchronous bulk jobs, CSV import, contact metadata), on the shared kit
(``include/emulators/kit``). Run it alone with ``python -m include.emulators.mailjet``; in-process
with ``MailjetEmulatorServer``. See README.md."""

from include.emulators.mailjet.control import MailjetControlClient
from include.emulators.mailjet.runner import MailjetEmulatorServer

__all__ = ["MailjetControlClient", "MailjetEmulatorServer"]

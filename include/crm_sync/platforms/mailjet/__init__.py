"""Mailjet (v3 REST) on the official ``mailjet-rest`` client: ``MailjetClient`` (typed calls,
retries, bulk jobs polled to the end) and ``MailjetPlatform`` (the ``MembershipPlatform``)."""

from include.crm_sync.platforms.mailjet.client import JobPolicy, MailjetClient, RetryPolicy
from include.crm_sync.platforms.mailjet.platform import MailjetPlatform

__all__ = ["JobPolicy", "MailjetClient", "MailjetPlatform", "RetryPolicy"]

"""Spotler Mail+ (formerly MailPlus) audiences over its REST "integrationservice" API.

``client`` (typed calls, OAuth 1.0a, retries), ``errors`` (what each refusal means), ``models``
(the JSON shapes), ``feedback`` (bounces and opt-outs as ``FeedbackRow``) and ``platform`` (the
``MembershipPlatform`` the membership sync talks to).
"""

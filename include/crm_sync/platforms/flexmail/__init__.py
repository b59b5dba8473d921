"""Flexmail (legacy interest labels) over REST: the client on ``requests`` with a token bucket shared
by every task of the deployment, and the CSV form of a contacts import for operators."""

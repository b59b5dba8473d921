"""The API's error answers: ``ErrorResponse {errorType, message}`` with the documented statuses,
errorTypes and messages (reference: the repository's Spotler notes, see README.md)."""

from __future__ import annotations

from typing import Any

from include.emulators.kit.http import Reply, json_reply

# errorType values the API documents.
INVALID_PARAMS = "INVALID_PARAMS"
INVALID_STATE = "INVALID_STATE"
NAME_ALREADY_IN_USE = "NAME_ALREADY_IN_USE"
ID_NOTUNIQUE = "ID_NOTUNIQUE"
PRODUCT_NOTFOUND = "PRODUCT_NOTFOUND"
NOT_AUTHORIZED = "NOT_AUTHORIZED"
CONTACT_NOT_FOUND = "CONTACT_NOT_FOUND"
CONTACT_OPTOUT = "CONTACT_OPTOUT"
CONTACT_ALREADY_EXISTS = "CONTACT_ALREADY_EXISTS"
INVALID_PROPERTY = "INVALID_PROPERTY"
BACKEND_EXCEPTION = "BACKEND_EXCEPTION"
RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND"

# Documented messages, word for word.
AUDIENCE_NOT_FOUND = "Audience not found"
NAME_NOT_UNIQUE = "Audience name must be unique"
ID_NOT_UNIQUE = "Audience id must be unique"
MAX_AUDIENCES = "Maximum of audiences exceeded"
PATH_ID_MISMATCH = "Path id doesn't match audience id"
IN_USE = "Cannot delete audience, as it's in use"
CONTACTS_NOT_FOUND = "Contacts not found"
BATCH_TOO_LARGE = "Maximum batch size of contact ids exceeded (maximum is {limit})"
TOO_MANY_CONTACTS = "Too many contacts provided (max is {limit})"
NO_PRODUCT = "Only Automation or eCommerce products can use this call"


class ApiError(Exception):
    """An error answer: raised anywhere in a handler, turned into the reply by the app."""

    def __init__(self, status: int, error_type: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.extra = extra

    def reply(self) -> Reply:
        return json_reply(self.status, {"errorType": self.error_type, "message": self.message, **self.extra})

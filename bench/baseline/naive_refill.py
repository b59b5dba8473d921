"""The naive baseline: what a data team writes first to refill a platform list.

``pandas.read_sql`` of the whole list into a DataFrame, a plain zeep client on the platform's
WSDL, ``clear``, then ``addAll3`` per 1000 recipients one call after the other, counting the
accepted codes and nothing else (no audit, no resume, no batch records), then ``getCount``.

It sends the same recipients as the refill: its query is the project's own classification
(``sql/queries/extract_classify.sql`` with the list's selection, consent, feedback and blocklist
rules -- a correct naive job needs the same rules), keeping the eligible rows, one per address
(contact before lead before account, then the smallest id), in address order; the attribute
values are built as the snapshot builds them. ``recipients`` and the platform's count after the
run are returned so the driver can check they match the refill's.

zeep needs two things against an Axis-style WSDL (the emulator README's "Client notes"): the
SOAP encoding schema served locally (the WSDL imports it by URL) and array types built with
zeep's public xsd API (zeep cannot build ``String[][]`` from the WSDL's type). Both are here, as
a team would copy them from the README.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

SOAP_ENCODING_URL = "http://schemas.xmlsoap.org/soap/encoding/"
SOAP_ENCODING_XSD = (
    Path(__file__).resolve().parents[2]
    / "include"
    / "crm_sync"
    / "platforms"
    / "optimizely"
    / "schemas"
    / "soap-encoding.xsd"
)
RECIPIENT_NS = "urn:api.broadmail.de/soap11/RpcRecipient"
TYPE_RANK = {"contact": 0, "lead": 1, "account": 2}


def list_query(engine: Any, list_name: str) -> tuple[str, dict[str, Any], Any]:
    """(SQL, binds, list definition) of the list's eligible rows, before de-duplication."""
    import sqlalchemy as sa

    from include.crm_sync.config.loader import load_lists
    from include.crm_sync.extract.queries import blocklist_pattern_sql, email_check_sql
    from include.crm_sync.extract.selection import selection_predicate
    from include.crm_sync.extract.sql_text import render_query
    from include.crm_sync.validate.email_syntax import EMAIL_MAX_LENGTH, EMAIL_REGEX

    list_def = load_lists().get(list_name)
    selected, params = selection_predicate(list_def)
    classified = render_query(
        "extract_classify",
        selected=selected,
        email_matches=email_check_sql(engine.dialect.name),
        blocklist_pattern_match=blocklist_pattern_sql(engine.dialect.name),
    )
    with engine.connect() as conn:
        is_marketing = conn.execute(
            sa.text("SELECT is_marketing FROM crm_consent_type WHERE consent_id = :c"),
            {"c": list_def.consent},
        ).scalar_one()
    params |= {
        "sys_consent_id": list_def.consent,
        "sys_global_unsubscribe": 1 if is_marketing else 0,
        "sys_email_regex": EMAIL_REGEX,
        "sys_email_max_length": EMAIL_MAX_LENGTH,
    }
    return f"SELECT * FROM ({classified}) AS classified WHERE reason IS NULL", params, list_def


def zeep_client(base_url: str, service: str):
    import zeep
    from zeep.transports import Transport

    class LocalSchemaTransport(Transport):
        def load(self, url: str) -> bytes:
            if url.rstrip("/") == SOAP_ENCODING_URL.rstrip("/"):
                return SOAP_ENCODING_XSD.read_bytes()
            return super().load(url)

    return zeep.Client(f"{base_url}/soap11/Rpc{service}?wsdl", transport=LocalSchemaTransport(timeout=120))


def naive_refill_step(url: str, base_url: str, list_name: str, batch_size: int = 1000) -> dict:
    import pandas as pd
    import sqlalchemy as sa
    from lxml import etree
    from zeep import xsd

    engine = sa.create_engine(url)
    sql, params, list_def = list_query(engine, list_name)
    started = time.perf_counter()

    with engine.connect() as conn:
        df = pd.read_sql(sa.text(sql), conn, params=params)
    df["rank"] = df["entity_type"].map(TYPE_RANK).fillna(3)
    df = df.sort_values(["email", "rank", "entity_id"]).drop_duplicates("email", keep="first")
    read_s = time.perf_counter() - started

    def array_type(name: str, item_type: Any) -> Any:
        return xsd.ComplexType(
            xsd.Sequence([xsd.Element("item", item_type, min_occurs=0, max_occurs="unbounded")]),
            qname=etree.QName(RECIPIENT_NS, name),
        )

    string_array = array_type("ArrayOf_xsd_string", xsd.String())
    string_matrix = array_type("ArrayOfArrayOf_xsd_string", string_array)

    session_id = zeep_client(base_url, "Session").service.login(1, "demo", "demo")
    recipient = zeep_client(base_url, "Recipient").service
    names = list(list_def.attribute_names)
    columns = list(list_def.attributes.values())
    fixed = [list_def.optin_process_id, list_def.description_value, list_def.media_type]
    recipient.clear(session_id, int(list_def.platform_list_id))
    accepted = 0
    upload_started = time.perf_counter()
    for start in range(0, len(df), batch_size):
        chunk = df.iloc[start : start + batch_size]
        rows = [
            fixed
            + [row.entity_type, row.entity_id]
            + ["" if pd.isna(getattr(row, c)) else str(getattr(row, c)) for c in columns]
            for row in chunk.itertuples(index=False)
        ]
        codes = recipient.addAll3(
            session_id,
            int(list_def.platform_list_id),
            int(list_def.optin_process_id),
            string_array(item=list(chunk["entity_id"])),
            string_array(item=list(chunk["email"])),
            string_array(item=names),
            string_matrix(item=[string_array(item=r) for r in rows]),
        )
        accepted += sum(1 for code in codes if code in (0, 5))
    upload_s = time.perf_counter() - upload_started
    count = zeep_client(base_url, "RecipientList").service.getCount(
        session_id, int(list_def.platform_list_id)
    )
    seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "list": list_name,
        "recipients": len(df),
        "accepted": accepted,
        "platform_count": count,
        "read_s": round(read_s, 2),
        "upload_s": round(upload_s, 2),
        "seconds": round(seconds, 2),
        "rps": round(len(df) / seconds) if seconds else None,
        "upload_rps": round(len(df) / upload_s) if upload_s else None,
    }

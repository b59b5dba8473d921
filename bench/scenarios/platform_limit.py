"""The platform limit: how fast the emulator takes addAll3 batches when the client costs nothing.

The request bodies of every batch of a list run's snapshot (the same recipients, attributes and
batches as the refill) are built before the clock starts, as plain strings (the SOAP encoding
the emulator's README shows). Timed: ``max_parallel_calls`` threads, each with its own keep-alive
``requests.Session``, posting the prepared bodies back to back until none is left. No
extraction, no serialisation, no result recording -- only the codes are counted (a byte count in
the answer) to check the platform took the batches. Login and ``clear`` happen before the clock
starts, ``getCount`` after it stops.
"""

from __future__ import annotations

import re
import threading
import time
from xml.sax.saxutils import escape

from bench.common.emulator import MANDATOR_ID, PASSWORD, USER

_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/">'
    '<soapenv:Body><ns1:{op} xmlns:ns1="urn:api.broadmail.de/soap11/Rpc{service}">{params}</ns1:{op}>'
    "</soapenv:Body></soapenv:Envelope>"
)
_RETURN = re.compile(rb"<\w*:?\w+Return[^>]*>([^<]*)<")


def _esc(value: str) -> str:
    return escape(value, {"\r": "&#13;"})


def _scalars(*values: object) -> str:
    return "".join(f"<in{i}>{_esc(str(v))}</in{i}>" for i, v in enumerate(values))


def _string_array(name: str, values) -> str:
    items = "".join(f"<item>{_esc(v)}</item>" for v in values)
    return f'<{name} xsi:type="soapenc:Array" soapenc:arrayType="xsd:string[{len(values)}]">{items}</{name}>'


def add_all3_body(session_id: str, list_id: str, optin_id: str, names, recipients) -> bytes:
    rows = "".join(_string_array("item", r.attributes) for r in recipients)
    params = (
        _scalars(session_id, list_id, optin_id)
        + _string_array("in3", [r.recipient_id for r in recipients])
        + _string_array("in4", [r.email for r in recipients])
        + _string_array("in5", list(names))
        + f'<in6 xsi:type="soapenc:Array" soapenc:arrayType="xsd:string[][{len(recipients)}]">{rows}</in6>'
    )
    return _ENVELOPE.format(op="addAll3", service="Recipient", params=params).encode("utf-8")


def _call(http, base_url: str, service: str, op: str, *values: object) -> bytes:
    body = _ENVELOPE.format(op=op, service=service, params=_scalars(*values)).encode("utf-8")
    response = http.post(
        f"{base_url}/soap11/Rpc{service}",
        data=body,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
        timeout=120,
    )
    response.raise_for_status()
    return response.content


def post_bodies(base_url: str, bodies: list[bytes], parallel: int) -> tuple[float, int]:
    """Post ``bodies`` to RpcRecipient from ``parallel`` threads, each with its own keep-alive
    connection, back to back until none is left; (seconds, recipients accepted: codes 0 and 5).
    The first refusal (HTTP error or SOAP fault) stops every thread and is raised."""
    import requests

    todo = iter(range(len(bodies)))
    lock = threading.Lock()
    accepted = [0] * parallel
    errors: list[str] = []
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}

    def worker(slot: int) -> None:
        with requests.Session() as own:  # one keep-alive connection per thread
            while True:
                with lock:
                    index = next(todo, None)
                if index is None or errors:
                    return
                response = own.post(
                    f"{base_url}/soap11/RpcRecipient", data=bodies[index], headers=headers, timeout=120
                )
                content = response.content
                if response.status_code != 200 or b"Fault>" in content:
                    errors.append(f"batch {index}: HTTP {response.status_code}: {response.text[:300]}")
                    return
                accepted[slot] += content.count(b">0</item>") + content.count(b">5</item>")

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(parallel)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"pre-built bodies refused: {errors[0]}")
    return seconds, sum(accepted)


def limit_step(url: str, base_url: str, list_run_id: int, parallel: int, batch_size: int = 1000) -> dict:
    import requests
    import sqlalchemy as sa

    from include.crm_sync.extract import iter_snapshot
    from include.crm_sync.staging.engine import create_staging_engine
    from include.crm_sync.staging.tables import list_run

    engine = create_staging_engine(url)
    with engine.connect() as conn:
        lr = conn.execute(sa.select(list_run).where(list_run.c.list_run_id == list_run_id)).mappings().one()
    http = requests.Session()
    session_id = _RETURN.search(_call(http, base_url, "Session", "login", MANDATOR_ID, USER, PASSWORD)).group(
        1
    )
    session_id = session_id.decode()
    build_started = time.perf_counter()
    bodies = [
        add_all3_body(
            session_id, lr["platform_list_id"], lr["optin_process_id"], lr["attribute_names"], chunk
        )
        for chunk in iter_snapshot(engine, list_run_id, chunk_size=batch_size)
    ]
    build_s = time.perf_counter() - build_started
    engine.dispose()
    recipients = lr["snapshot_rows"]
    _call(http, base_url, "Recipient", "clear", session_id, lr["platform_list_id"])

    seconds, accepted = post_bodies(base_url, bodies, parallel)
    count = int(
        _RETURN.search(
            _call(http, base_url, "RecipientList", "getCount", session_id, lr["platform_list_id"])
        ).group(1)
    )
    http.close()
    return {
        "list": lr["list_name"],
        "recipients": recipients,
        "batches": len(bodies),
        "body_mb": round(sum(map(len, bodies)) / 2**20, 1),
        "build_s": round(build_s, 2),
        "seconds": round(seconds, 3),
        "rps": round(recipients / seconds) if seconds else None,
        "accepted": accepted,
        "platform_count": count,
        "parallel": parallel,
    }

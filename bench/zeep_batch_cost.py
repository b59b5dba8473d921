"""Benchmark of the Optimizely client's hot path: one addAll3 request, and add_all end to end.

    .venv/bin/python bench/zeep_batch_cost.py
    .venv/bin/python bench/zeep_batch_cost.py --recipients 20000 --attributes 10 --repeat 30

Part 1 - client-side CPU cost (thread CPU time) of building and serialising ONE addAll3 request of
``--batch`` recipients x ``--attributes`` attribute values (median and best of ``--repeat`` runs,
after a warm-up), five ways:

* ``zeep + soap_arrays``  the client's path: zeep envelope, ``EncodedArray`` values (correct SOAP
  encoding, see include/crm_sync/platforms/optimizely/soap_arrays.py)
* ``zeep stock, item rows``  zeep's own array types, rows given as ready ``<item>`` elements
  (the workaround the reference notes; its 2-D XML is malformed: rows wrapped twice)
* ``zeep public xsd types``  array types rebuilt with zeep's public ``xsd.ComplexType`` API (the
  emulator README's suggestion): valid nesting, but no ``soapenc:arrayType`` and zeep's per-item
  validation
* ``lxml tree``  the same envelope built by hand with lxml (what the client would do if zeep
  could not serialise String[][] at all)
* ``string template``  escaped strings joined (the emulator's response-encoding technique), the floor

Part 2 - end to end: ``add_all`` of ``--recipients`` recipients into an in-process emulator over
real HTTP (loopback), with ``max_parallel_calls`` 1 and 4, without and with a simulated platform
latency per addAll3 call (``--latency``, the emulator's ``slow`` fault). By default client and
emulator share this process (and the GIL), so without latency the parallel speed-up is a lower
bound; ``--emulator-process`` runs the emulator in its own process. With latency the runs show
what parallel calls buy against a remote platform.

Results: JSON and a markdown table under ``--out`` (default bench/results/zeep_batch_cost).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402

from include.crm_sync.platforms.base import Recipient  # noqa: E402
from include.crm_sync.platforms.optimizely.client import OptimizelyCampaignClient  # noqa: E402
from include.crm_sync.platforms.optimizely.soap_arrays import string_array, string_matrix  # noqa: E402
from include.emulators.optimizely.control import ControlClient  # noqa: E402
from include.emulators.optimizely.runner import EmulatorServer  # noqa: E402

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
RECIPIENT_NS = "urn:api.broadmail.de/soap11/RpcRecipient"
ATTRIBUTES = (
    "opt-in-id",
    "description",
    "media-type",
    "entity-type",
    "entity-id",
    "first-name",
    "last-name",
    "language",
    "city",
    "company",
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def batch_data(n: int, width: int):
    names = [f"attr{j}" for j in range(width)]
    ids = [f"C{i:08d}" for i in range(n)]
    emails = [f"user{i}@example.com" for i in range(n)]
    rows = [[f"value {i}/{j} äöü & <x>" for j in range(width)] for i in range(n)]
    return ids, emails, names, rows


def timings_ms(fn, repeat: int) -> tuple[float, float, int]:
    """(median, best) CPU milliseconds of this thread over ``repeat`` runs after a warm-up, and the
    output size. Thread CPU time rather than wall time: it is what the client pays per request and
    it does not depend on what else the machine is running."""
    size = len(fn())
    times = []
    for _ in range(repeat):
        started = time.thread_time()
        fn()
        times.append((time.thread_time() - started) * 1000)
    return statistics.median(times), min(times), size


def build_ways(client: OptimizelyCampaignClient, ids, emails, names, rows):
    from zeep.wsdl.utils import etree_to_string

    zeep_client = client._webservice("Recipient").client

    def zeep_soap_arrays() -> bytes:
        envelope = zeep_client.create_message(
            zeep_client.service,
            "addAll3",
            "session-id",
            1001,
            0,
            string_array(ids),
            string_array(emails),
            string_array(names),
            string_matrix(rows),
        )
        return etree_to_string(envelope)

    string_type = zeep_client.get_type("ns0:ArrayOf_xsd_string")
    matrix_type = zeep_client.get_type("ns0:ArrayOfArrayOf_xsd_string")

    def zeep_stock_items() -> bytes:
        items = []
        for row in rows:
            item = etree.Element("item")
            for value in row:
                etree.SubElement(item, "item").text = value
            items.append(item)
        envelope = zeep_client.create_message(
            zeep_client.service,
            "addAll3",
            "session-id",
            1001,
            0,
            string_type(ids),
            string_type(emails),
            string_type(names),
            matrix_type(items),
        )
        return etree_to_string(envelope)

    from zeep import xsd

    def public_array_type(name, item_type):
        return xsd.ComplexType(
            xsd.Sequence([xsd.Element("item", item_type, min_occurs=0, max_occurs="unbounded")]),
            qname=etree.QName(RECIPIENT_NS, name),
        )

    public_strings = public_array_type("ArrayOf_xsd_string", xsd.String())
    public_matrix = public_array_type("ArrayOfArrayOf_xsd_string", public_strings)

    def zeep_public_types() -> bytes:
        envelope = zeep_client.create_message(
            zeep_client.service,
            "addAll3",
            "session-id",
            1001,
            0,
            public_strings(item=ids),
            public_strings(item=emails),
            public_strings(item=names),
            public_matrix(item=[public_strings(item=row) for row in rows]),
        )
        return etree_to_string(envelope)

    xsi_type, array_type = f"{{{XSI}}}type", f"{{{SOAP_ENC}}}arrayType"

    def lxml_tree() -> bytes:
        root = etree.Element(
            f"{{{SOAP_ENV}}}Envelope",
            nsmap={"soapenv": SOAP_ENV, "xsd": XSD, "xsi": XSI, "soapenc": SOAP_ENC},
        )
        body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
        op = etree.SubElement(body, f"{{{RECIPIENT_NS}}}addAll3", nsmap={"ns1": RECIPIENT_NS})
        sub = etree.SubElement
        for name, xtype, value in (
            ("in0", "xsd:string", "session-id"),
            ("in1", "xsd:long", "1001"),
            ("in2", "xsd:long", "0"),
        ):
            element = sub(op, name)
            element.set(xsi_type, xtype)
            element.text = value
        for name, values in (("in3", ids), ("in4", emails), ("in5", names)):
            element = sub(op, name)
            element.set(xsi_type, "soapenc:Array")
            element.set(array_type, f"xsd:string[{len(values)}]")
            for value in values:
                sub(element, "item").text = value
        matrix = sub(op, "in6")
        matrix.set(xsi_type, "soapenc:Array")
        matrix.set(array_type, f"xsd:string[][{len(rows)}]")
        for row in rows:
            item = sub(matrix, "item")
            item.set(xsi_type, "soapenc:Array")
            item.set(array_type, f"xsd:string[{len(row)}]")
            for value in row:
                sub(item, "item").text = value
        return etree.tostring(root, xml_declaration=True, encoding="utf-8")

    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")

    def string_template() -> bytes:
        out = [
            f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" '
            f'xmlns:xsd="{XSD}" xmlns:xsi="{XSI}" xmlns:soapenc="{SOAP_ENC}"><soapenv:Body>'
            f'<ns1:addAll3 xmlns:ns1="{RECIPIENT_NS}"><in0 xsi:type="xsd:string">session-id</in0>'
            '<in1 xsi:type="xsd:long">1001</in1><in2 xsi:type="xsd:long">0</in2>'
        ]
        for name, values in (("in3", ids), ("in4", emails), ("in5", names)):
            out.append(f'<{name} xsi:type="soapenc:Array" soapenc:arrayType="xsd:string[{len(values)}]">')
            out.extend(f"<item>{esc(v)}</item>" for v in values)
            out.append(f"</{name}>")
        out.append(f'<in6 xsi:type="soapenc:Array" soapenc:arrayType="xsd:string[][{len(rows)}]">')
        for row in rows:
            out.append(f'<item xsi:type="soapenc:Array" soapenc:arrayType="xsd:string[{len(row)}]">')
            out.extend(f"<item>{esc(v)}</item>" for v in row)
            out.append("</item>")
        out.append("</in6></ns1:addAll3></soapenv:Body></soapenv:Envelope>")
        return "".join(out).encode("utf-8")

    return {
        "zeep + soap_arrays (client)": zeep_soap_arrays,
        "zeep stock, item rows (malformed 2-D)": zeep_stock_items,
        "zeep public xsd types (emulator README; no arrayType)": zeep_public_types,
        "lxml tree": lxml_tree,
        "string template": string_template,
    }


def recipient_stream(n: int, width: int):
    """Realistic values within the seed lists' attribute lengths (language is at most 10 chars)."""
    for i in range(n):
        values = (
            "newsletter-nl",
            f"contact {i}",
            "email",
            "contact",
            f"C{i:08d}",
            f"Jürgen{i}",
            f"Müller-{i}",
            "de",
            "Zürich",
            "ACME & Söhne",
        )
        yield Recipient(f"C{i:08d}", f"user{i}@example.com", values[:width])


@contextmanager
def emulator_process():
    """The emulator CLI in a child process on a free port; yields (base_url, ControlClient)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "include.emulators.optimizely", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"(http://[\d.]+:\d+)", line)
        if not match:
            raise RuntimeError(f"emulator did not start: {line!r}")
        yield match.group(1), ControlClient(match.group(1))
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_add_all(base_url: str, control: ControlClient, args: argparse.Namespace, width: int) -> list[dict]:
    runs = []
    for latency in args.latency:
        for parallel in args.parallel:
            control.reset()
            if latency > 0:
                control.add_fault("addAll3", "slow", delay_seconds=latency, times=0)
            with OptimizelyCampaignClient(base_url, 1, "demo", "demo", max_parallel_calls=parallel) as client:
                client.list_ids()  # log in and load a WSDL outside the measurement
                client.count(1001)
                started = time.perf_counter()
                report = client.add_all(1001, 0, ATTRIBUTES[:width], recipient_stream(args.recipients, width))
                seconds = time.perf_counter() - started
            assert report.accepted == args.recipients, report.as_dict()
            rate = args.recipients / seconds
            log(
                f"add_all {args.recipients} x {width}, latency {latency}s, {parallel} parallel: "
                f"{seconds:.2f}s = {rate:,.0f}/s"
            )
            runs.append(
                {
                    "latency_s": latency,
                    "max_parallel_calls": parallel,
                    "seconds": round(seconds, 3),
                    "recipients_per_s": round(rate),
                }
            )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--attributes", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4])
    parser.add_argument(
        "--latency",
        type=float,
        nargs="+",
        default=[0.0, 0.2],
        help="simulated platform latency per addAll3 call in seconds (emulator 'slow' fault)",
    )
    parser.add_argument(
        "--emulator-process",
        action="store_true",
        help="run the end-to-end part against an emulator in its own process (own GIL)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "zeep_batch_cost")
    args = parser.parse_args()
    width = min(args.attributes, len(ATTRIBUTES))

    results: dict = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "batch": {"recipients": args.batch, "attributes": args.attributes, "repeat": args.repeat, "ways": []},
        "add_all": {"recipients": args.recipients, "attributes": width, "runs": []},
    }
    with EmulatorServer(port=0) as emulator:
        with OptimizelyCampaignClient(emulator.base_url, 1, "demo", "demo") as client:
            ids, emails, names, rows = batch_data(args.batch, args.attributes)
            for name, build in build_ways(client, ids, emails, names, rows).items():
                ms, best, size = timings_ms(build, args.repeat)
                log(f"{name}: median {ms:.1f} ms CPU, best {best:.1f} ms, {size / 1024:.0f} KiB")
                results["batch"]["ways"].append(
                    {"way": name, "median_ms": round(ms, 2), "best_ms": round(best, 2), "bytes": size}
                )

        if not args.emulator_process:
            results["add_all"]["runs"] = run_add_all(emulator.base_url, emulator.control, args, width)
    if args.emulator_process:
        with emulator_process() as (base_url, control):
            results["add_all"]["runs"] = run_add_all(base_url, control, args, width)
    results["add_all"]["emulator"] = "own process" if args.emulator_process else "in-process thread"

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        f"# Optimizely addAll3 cost ({args.batch} recipients x {args.attributes} attributes per request)",
        "",
        "| way | median CPU ms / request | best CPU ms | request size |",
        "|---|---:|---:|---:|",
        *(
            f"| {w['way']} | {w['median_ms']:.1f} | {w['best_ms']:.1f} | {w['bytes'] / 1024:.0f} KiB |"
            for w in results["batch"]["ways"]
        ),
        "",
        f"## add_all of {args.recipients} recipients x {width} attributes "
        f"(emulator {results['add_all']['emulator']}, loopback)",
        "",
        "| simulated latency per call | max_parallel_calls | seconds | recipients/s |",
        "|---:|---:|---:|---:|",
        *(
            f"| {r['latency_s']:.1f} s | {r['max_parallel_calls']} "
            f"| {r['seconds']:.2f} | {r['recipients_per_s']:,} |"
            for r in results["add_all"]["runs"]
        ),
        "",
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

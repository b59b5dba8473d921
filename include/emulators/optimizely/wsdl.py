"""WSDL 1.1 documents in the shape Apache Axis 1.x generates for RPC/encoded services.

Per webservice: a schema in the service namespace that imports the SOAP encoding namespace
(without schemaLocation, as Axis does; clients resolve it themselves) and defines the array types
it uses (``ArrayOf_xsd_string`` ... as complexContent restrictions of ``soapenc:Array`` with a
``wsdl:arrayType``), one request/response message pair per operation with positional parts
``in0..`` and ``<op>Return``, a portType (with wsdl:documentation per operation, including the
export column orders), an rpc/encoded binding, and a service whose address is the URL the WSDL
was fetched from.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from include.emulators.optimizely.services.base import Webservice
from include.emulators.optimizely.soap import SOAP_ENC, escape

ARRAY_TYPE_NAMES = {
    "string[]": "ArrayOf_xsd_string",
    "string[][]": "ArrayOfArrayOf_xsd_string",
    "long[]": "ArrayOf_xsd_long",
    "int[]": "ArrayOf_xsd_int",
    "boolean[]": "ArrayOf_xsd_boolean",
}
# wsdl:arrayType of each array type: the item type, with the outer dimension left open.
_ARRAY_ITEM_TYPES = {
    "string[]": "xsd:string[]",
    "string[][]": "xsd:string[][]",
    "long[]": "xsd:long[]",
    "int[]": "xsd:int[]",
    "boolean[]": "xsd:boolean[]",
}


def _part_type(type_: str) -> str:
    return f"impl:{ARRAY_TYPE_NAMES[type_]}" if type_ in ARRAY_TYPE_NAMES else f"xsd:{type_}"


def _array_types_used(service: Webservice) -> list[str]:
    used: set[str] = set()
    for op in service.operations.values():
        used.update(p.type for p in op.params if p.type in ARRAY_TYPE_NAMES)
        if op.returns in ARRAY_TYPE_NAMES:
            used.add(op.returns)
    # String[][] items are String[]: Axis declares both when the 2-D type is used.
    if "string[][]" in used:
        used.add("string[]")
    return [t for t in ARRAY_TYPE_NAMES if t in used]


def render_wsdl(service: Webservice, base_url: str) -> bytes:
    ns = service.namespace
    out: list[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        (
            f'<wsdl:definitions targetNamespace="{ns}" xmlns:apachesoap="http://xml.apache.org/xml-soap" '
            f'xmlns:impl="{ns}" xmlns:intf="{ns}" xmlns:soapenc="{SOAP_ENC}" '
            'xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
            'xmlns:wsdlsoap="http://schemas.xmlsoap.org/wsdl/soap/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema">\n'
        ),
        f" <wsdl:documentation>{escape(service.doc)} (Optimizely Campaign emulator)</wsdl:documentation>\n",
    ]
    array_types = _array_types_used(service)
    if array_types:
        out.append(" <wsdl:types>\n")
        out.append(f'  <schema targetNamespace="{ns}" xmlns="http://www.w3.org/2001/XMLSchema">\n')
        out.append(f'   <import namespace="{SOAP_ENC}"/>\n')
        for type_ in array_types:
            out.append(
                f'   <complexType name="{ARRAY_TYPE_NAMES[type_]}">\n'
                "    <complexContent>\n"
                '     <restriction base="soapenc:Array">\n'
                f'      <attribute ref="soapenc:arrayType" wsdl:arrayType="{_ARRAY_ITEM_TYPES[type_]}"/>\n'
                "     </restriction>\n"
                "    </complexContent>\n"
                "   </complexType>\n"
            )
        out.append("  </schema>\n </wsdl:types>\n")

    for op in service.operations.values():
        out.append(f'   <wsdl:message name="{op.name}Request">\n')
        for index, param in enumerate(op.params):
            out.append(f'      <wsdl:part name="in{index}" type="{_part_type(param.type)}"/>\n')
        out.append("   </wsdl:message>\n")
        out.append(f'   <wsdl:message name="{op.name}Response">\n')
        if op.returns is not None:
            out.append(f'      <wsdl:part name="{op.name}Return" type="{_part_type(op.returns)}"/>\n')
        out.append("   </wsdl:message>\n")

    out.append(f'   <wsdl:portType name="{service.interface}">\n')
    for op in service.operations.values():
        order = " ".join(f"in{i}" for i in range(len(op.params)))
        signature = ", ".join(f"{p.type} {p.name}" for p in op.params)
        doc = f"{op.returns or 'void'} {op.name}({signature}). {op.doc}"
        out.append(
            f'      <wsdl:operation name="{op.name}" parameterOrder="{order}">\n'
            f"         <wsdl:documentation>{escape(doc)}</wsdl:documentation>\n"
            f'         <wsdl:input message="impl:{op.name}Request" name="{op.name}Request"/>\n'
            f'         <wsdl:output message="impl:{op.name}Response" name="{op.name}Response"/>\n'
            "      </wsdl:operation>\n"
        )
    out.append("   </wsdl:portType>\n")

    body = f'<wsdlsoap:body encodingStyle="{SOAP_ENC}" namespace="{ns}" use="encoded"/>'
    out.append(f'   <wsdl:binding name="{service.rpc_name}SoapBinding" type="impl:{service.interface}">\n')
    out.append('      <wsdlsoap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>\n')
    for op in service.operations.values():
        out.append(
            f'      <wsdl:operation name="{op.name}">\n'
            '         <wsdlsoap:operation soapAction=""/>\n'
            f'         <wsdl:input name="{op.name}Request">{body}</wsdl:input>\n'
            f'         <wsdl:output name="{op.name}Response">{body}</wsdl:output>\n'
            "      </wsdl:operation>\n"
        )
    out.append("   </wsdl:binding>\n")
    out.append(
        f'   <wsdl:service name="{service.interface}Service">\n'
        f'      <wsdl:port binding="impl:{service.rpc_name}SoapBinding" name="{service.rpc_name}">\n'
        f"         <wsdlsoap:address location={quoteattr(base_url.rstrip('/') + service.path)}/>\n"
        "      </wsdl:port>\n"
        "   </wsdl:service>\n"
        "</wsdl:definitions>\n"
    )
    return "".join(out).encode("utf-8")

"""An Axis 1.x style RPC/encoded WSDL (the shape the platform publishes) for offline unit tests."""

RECIPIENT_WSDL = b"""<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions targetNamespace="urn:api.broadmail.de/soap11/RpcRecipient"
  xmlns:impl="urn:api.broadmail.de/soap11/RpcRecipient" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"
  xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:wsdlsoap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema">
 <wsdl:types>
  <schema targetNamespace="urn:api.broadmail.de/soap11/RpcRecipient" xmlns="http://www.w3.org/2001/XMLSchema">
   <import namespace="http://schemas.xmlsoap.org/soap/encoding/"/>
   <complexType name="ArrayOf_xsd_string"><complexContent><restriction base="soapenc:Array">
     <attribute ref="soapenc:arrayType" wsdl:arrayType="xsd:string[]"/>\
</restriction></complexContent></complexType>
   <complexType name="ArrayOfArrayOf_xsd_string"><complexContent><restriction base="soapenc:Array">
     <attribute ref="soapenc:arrayType" wsdl:arrayType="xsd:string[][]"/>\
</restriction></complexContent></complexType>
   <complexType name="ArrayOf_xsd_int"><complexContent><restriction base="soapenc:Array">
     <attribute ref="soapenc:arrayType" wsdl:arrayType="xsd:int[]"/>\
</restriction></complexContent></complexType>
  </schema>
 </wsdl:types>
 <wsdl:message name="addAll3Request">
  <wsdl:part name="in0" type="xsd:string"/><wsdl:part name="in1" type="xsd:long"/>
  <wsdl:part name="in2" type="xsd:long"/><wsdl:part name="in3" type="impl:ArrayOf_xsd_string"/>
  <wsdl:part name="in4" type="impl:ArrayOf_xsd_string"/><wsdl:part name="in5" type="impl:ArrayOf_xsd_string"/>
  <wsdl:part name="in6" type="impl:ArrayOfArrayOf_xsd_string"/>
 </wsdl:message>
 <wsdl:message name="addAll3Response">\
<wsdl:part name="addAll3Return" type="impl:ArrayOf_xsd_int"/></wsdl:message>
 <wsdl:portType name="RecipientWebservice">
  <wsdl:operation name="addAll3" parameterOrder="in0 in1 in2 in3 in4 in5 in6">
   <wsdl:input message="impl:addAll3Request" name="addAll3Request"/>
   <wsdl:output message="impl:addAll3Response" name="addAll3Response"/>
  </wsdl:operation>
 </wsdl:portType>
 <wsdl:binding name="RpcRecipientSoapBinding" type="impl:RecipientWebservice">
  <wsdlsoap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
  <wsdl:operation name="addAll3">
   <wsdlsoap:operation soapAction=""/>
   <wsdl:input name="addAll3Request"><wsdlsoap:body encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"
      namespace="urn:api.broadmail.de/soap11/RpcRecipient" use="encoded"/></wsdl:input>
   <wsdl:output name="addAll3Response"><wsdlsoap:body encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"
      namespace="urn:api.broadmail.de/soap11/RpcRecipient" use="encoded"/></wsdl:output>
  </wsdl:operation>
 </wsdl:binding>
 <wsdl:service name="RecipientWebserviceService">
  <wsdl:port binding="impl:RpcRecipientSoapBinding" name="RpcRecipient">
   <wsdlsoap:address location="https://api.example.invalid/soap11/RpcRecipient"/>
  </wsdl:port>
 </wsdl:service>
</wsdl:definitions>
"""

#!/usr/bin/env python3
"""Validates a DCAT-AP.de catalog (Turtle) with pyshacl against the official shapes.

    validate_dcat.py CATALOG.ttl|.rdf|.jsonld SHAPES_DIR PROFILE    (PROFILE: 2.0 or 3.0)

SHAPES_DIR is the dcat-ap-de folder of the shared data (v2.0/, v3.0/, vocab/). Prints one JSON
object: the number of violations and warnings and the messages of the violations.
"""
import json
import os
import sys

import pyshacl
import rdflib

catalog, shapes_dir, profile = sys.argv[1:4]
files = {
    "2.0": ["v2.0/dcat-ap_2.1.1_shacl_shapes.ttl", "v2.0/dcat-ap-spec-german-messages.ttl",
            "v2.0/dcat-ap-spec-german-additions.ttl", "v2.0/dcat-ap-de-deprecated.ttl",
            "v2.0/dcat-ap-konventionen.ttl"],
    "3.0": ["v3.0/dcat-ap-SHACL.ttl", "v3.0/dcat-ap-SHACL-DE.ttl", "v3.0/dcat-ap-de-deprecated.ttl",
            "v3.0/dcat-ap-spec-german-additions.ttl", "v3.0/dcat-ap-de-controlledvocabularies.ttl"],
}[profile]
shapes = rdflib.Graph()
for f in files:
    shapes.parse(os.path.join(shapes_dir, f), format="turtle")
data = rdflib.Graph()
fmt = {"ttl": "turtle", "rdf": "xml", "jsonld": "json-ld"}[catalog.rsplit(".", 1)[1]]
data.parse(catalog, format=fmt)
triples = len(data)
# The controlled-vocabulary shapes look for skos:inScheme on the objects: the vocabularies go
# into the data graph.
vocab = os.path.join(shapes_dir, "vocab")
for f in sorted(os.listdir(vocab)):
    data.parse(os.path.join(vocab, f), format="turtle" if f.endswith(".ttl") else "xml")
conforms, results, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none", allow_warnings=True)
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
violations, warnings = [], 0
for r in results.subjects(rdflib.RDF.type, SH.ValidationResult):
    severity = results.value(r, SH.resultSeverity)
    if severity == SH.Violation:
        violations.append(f"{results.value(r, SH.focusNode)} {results.value(r, SH.resultPath)}: {results.value(r, SH.resultMessage)}")
    else:
        warnings += 1
print(json.dumps({"violations": len(violations), "warnings": warnings, "triples": triples, "messages": violations[:20]}))

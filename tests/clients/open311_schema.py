#!/usr/bin/env python3
"""Validates the JSON answers of an Open311 GeoReport v2 server against the community JSON Schemas.

Usage: open311_schema.py SCHEMA_DIR BASE_URL API_KEY

SCHEMA_DIR holds services.json, service.json, service-definition.json, requests.json, request.json
and swagger.json as published in open311/schema-validation (schema/georeport-v2). BASE_URL is the
server's root (the endpoint is BASE_URL/open311/v2). The script posts one request with API_KEY and
then fetches and validates:

  discovery.json                          a schema written from the spec's discovery section
  services.json                           services.json
  services/strassenschaden.json           service-definition.json (and it must be an object)
  requests.json (also extensions=true)    requests.json
  requests/{id}.json (also extensions)    requests.json
  POST requests.json answer               array of swagger.json#/definitions/RequestResponse
  tokens/{token}.json                     array of swagger.json#/definitions/TokenResponse
  servicerequestupdates.json              a schema from FixMyStreet's update feed
  error answers (400, 403, 404)           a schema from the spec's error section

Formats (date-time, uri) are checked. Prints a JSON summary {"checked": [...], "failures": [...]}
on stdout; exits 1 when anything failed.
"""
import json
import sys
from pathlib import Path

import requests
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

BASE_URI = "https://schemas.open311.invalid/georeport-v2/"

# From the GeoReport v2 spec, "Service Discovery": every field is required.
DISCOVERY = {
    "type": "object",
    "required": ["changeset", "contact", "key_service", "endpoints"],
    "properties": {
        "changeset": {"type": "string", "format": "date-time"},
        "contact": {"type": "string", "minLength": 1},
        "key_service": {"type": "string", "minLength": 1},
        "endpoints": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["specification", "url", "changeset", "type", "formats"],
                "properties": {
                    "specification": {"const": "http://wiki.open311.org/GeoReport_v2"},
                    "url": {"type": "string", "format": "uri"},
                    "changeset": {"type": "string", "format": "date-time"},
                    "type": {"enum": ["production", "test"]},
                    "formats": {
                        "type": "array",
                        "items": {"type": "string"},
                        "contains": {"const": "text/xml"},
                    },
                },
            },
        },
    },
}

# From the spec's "Errors" section: an array of errors, each with a code and a description.
ERRORS = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {
            "code": {"type": "integer"},
            "description": {"type": "string", "minLength": 1},
        },
    },
}

# FixMyStreet's servicerequestupdates (perllib/Open311.pm reads these fields).
UPDATES = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["update_id", "service_request_id", "status", "updated_datetime", "description"],
        "properties": {
            "update_id": {"type": "string"},
            "service_request_id": {"type": "string"},
            "status": {"enum": ["open", "closed"]},
            "updated_datetime": {"type": "string", "format": "date-time"},
            "description": {"type": "string"},
            "external_status_code": {"type": "string"},
        },
    },
}


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    schema_dir = Path(sys.argv[1])
    base = sys.argv[2].rstrip("/")
    key = sys.argv[3]
    endpoint = f"{base}/open311/v2"

    files = ["services.json", "service.json", "service-definition.json", "requests.json",
             "request.json", "swagger.json"]
    loaded = {}
    for name in files:
        path = schema_dir / name
        if not path.is_file():
            raise SystemExit(f"schema {path} is missing")
        loaded[name] = json.loads(path.read_text(encoding="utf-8"))
    registry = Registry().with_resources(
        (BASE_URI + name, Resource.from_contents(contents, default_specification=DRAFT7))
        for name, contents in loaded.items()
    )
    checker = Draft7Validator.FORMAT_CHECKER
    for needed in ("date-time", "uri"):
        if needed not in checker.checkers:
            raise SystemExit(f"jsonschema cannot check the format {needed} (a package is missing)")
    swagger = loaded["swagger.json"]["definitions"]

    def validator(schema):
        return Draft7Validator(schema, registry=registry, format_checker=checker)

    by_file = {name: {"$ref": BASE_URI + name} for name in files}
    array_of = lambda definition: {"type": "array", "minItems": 1, "items": swagger[definition]}

    checked, failures = [], []

    def check(label, response, schema, status=200, extra=None):
        checked.append(label)
        if response.status_code != status:
            failures.append(f"{label}: HTTP {response.status_code}, expected {status}: {response.text[:300]}")
            return None
        content_type = response.headers.get("Content-Type", "")
        if content_type != "application/json; charset=utf-8":
            failures.append(f"{label}: Content-Type {content_type!r}")
        try:
            body = response.json()
        except ValueError as e:
            failures.append(f"{label}: not JSON ({e}): {response.text[:300]}")
            return None
        for error in validator(schema).iter_errors(body):
            failures.append(f"{label}: {error.message} at {list(error.absolute_path)}")
        if extra:
            problem = extra(body)
            if problem:
                failures.append(f"{label}: {problem}")
        return body

    # A new request, so that every list has an entry.
    posted = requests.post(f"{endpoint}/requests.json", data={
        "api_key": key,
        "service_code": "strassenschaden",
        "lat": "50.3569",
        "long": "7.5940",
        "description": "Schema check: Schlagloch vor der Haustür",
        "attribute[art]": "schlagloch",
    }, timeout=30)
    answer = check("POST requests.json", posted, array_of("RequestResponse"), status=201,
                   extra=lambda b: None if b and "service_request_id" in b[0] and "token" in b[0]
                   else "no service_request_id and token")
    if not answer:
        print(json.dumps({"checked": checked, "failures": failures}))
        return 1
    rid, token = answer[0]["service_request_id"], answer[0]["token"]

    def get(path, **params):
        return requests.get(f"{endpoint}/{path}", params=params, timeout=30)

    not_empty = lambda b: None if b else "empty"
    is_object = lambda b: None if isinstance(b, dict) else f"not an object: {type(b).__name__}"

    check("discovery.json", requests.get(f"{base}/open311/discovery.json", timeout=30), DISCOVERY)
    check("services.json", get("services.json"), by_file["services.json"], extra=not_empty)
    check("services.json?lang=en", get("services.json", lang="en"), by_file["services.json"],
          extra=not_empty)
    check("services/strassenschaden.json", get("services/strassenschaden.json"),
          by_file["service-definition.json"],
          extra=lambda b: is_object(b) or (None if b.get("attributes") else "no attributes"))
    for label, params in [("requests.json", {}), ("requests.json?extensions=true", {"extensions": "true"}),
                          ("requests.json?status=open&service_code=strassenschaden",
                           {"status": "open", "service_code": "strassenschaden"})]:
        check(label, get("requests.json", **params), by_file["requests.json"], extra=not_empty)
    check(f"requests/{rid}.json", get(f"requests/{rid}.json"), by_file["requests.json"],
          extra=lambda b: None if len(b) == 1 and b[0]["service_request_id"] == rid else "not the one request")
    check(f"requests/{rid}.json?extensions=true", get(f"requests/{rid}.json", extensions="true"),
          by_file["requests.json"], extra=not_empty)
    check(f"tokens/{token}.json", get(f"tokens/{token}.json"), array_of("TokenResponse"),
          extra=lambda b: None if b[0].get("service_request_id") == rid else "token resolves to another id")
    check("servicerequestupdates.json", get("servicerequestupdates.json"), UPDATES)

    check("404 services/keine.json", get("services/keine.json"), ERRORS, status=404)
    check("404 requests/999999999.json", get("requests/999999999.json"), ERRORS, status=404)
    check("404 tokens/keins.json", get("tokens/keins.json"), ERRORS, status=404)
    check("400 requests.json?bbox=1", get("requests.json", bbox="1"), ERRORS, status=400)
    check("403 POST requests.json", requests.post(f"{endpoint}/requests.json", data={
        "api_key": "falsch", "service_code": "strassenschaden"}, timeout=30), ERRORS, status=403)
    check("400 POST requests.json", requests.post(f"{endpoint}/requests.json", data={
        "api_key": key, "service_code": "strassenschaden", "lat": "50.3569", "long": "7.5940",
        "description": ""}, timeout=30), ERRORS, status=400)

    print(json.dumps({"checked": checked, "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

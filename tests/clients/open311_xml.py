#!/usr/bin/env python3
"""Checks that the XML answers of an Open311 GeoReport v2 server carry the same data as the JSON ones.

Usage: open311_xml.py BASE_URL API_KEY PATH...

Every PATH (relative to BASE_URL/open311/v2, without suffix, with an optional query, e.g.
"requests?extensions=true" or "services/strassenschaden"; "../discovery" for discovery) is fetched
as .json and as .xml. Both must have the same HTTP status; the XML must be well-formed, UTF-8,
declared as such and served as text/xml; and it must be the JSON written the Spark way: an object
is an element whose children are its keys in order, an array is an element with one child per item
named as the spec names it (services/service, service_requests/request, errors/error, ...), a scalar
is text (true/false for booleans, numbers compared as numbers). The root element is the one the
spec names for the resource.

Then one request is posted in XML (as FixMyStreet does) and the answer must carry
service_requests/request/service_request_id.

Prints a JSON summary {"checked": [...], "failures": [...], "posted": id}; exits 1 on failures.
"""
import json
import sys
import xml.etree.ElementTree as ET

import requests

# The item element of each list, as the GeoReport spec, its extensions and FixMyStreet name them.
ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "notes": "note",
    "photos": "photo",
    "service_request_updates": "request_update",
}


def root_name(path, status):
    """The root element the spec gives the answer to PATH."""
    if status >= 400:
        return "errors"
    resource = path.split("?")[0]
    if resource.endswith("discovery"):
        return "discovery"
    if resource.startswith("services/"):
        return "service_definition"
    if resource == "services":
        return "services"
    if resource.startswith(("requests", "tokens/")):
        return "service_requests"
    if resource == "servicerequestupdates":
        return "service_request_updates"
    raise SystemExit(f"no root element known for {path}")


def compare(elem, value, where, failures):
    if isinstance(value, list):
        item = ITEM.get(elem.tag)
        if item is None:
            failures.append(f"{where}: array in an element {elem.tag!r} without a known item name")
            return
        children = list(elem)
        if len(children) != len(value):
            failures.append(f"{where}: {len(children)} XML items, {len(value)} JSON items")
            return
        for i, (child, v) in enumerate(zip(children, value)):
            if child.tag != item:
                failures.append(f"{where}[{i}]: element {child.tag!r}, expected {item!r}")
            compare(child, v, f"{where}/{child.tag}[{i}]", failures)
    elif isinstance(value, dict):
        tags = [c.tag for c in elem]
        if tags != list(value.keys()):
            failures.append(f"{where}: XML children {tags}, JSON keys {list(value.keys())}")
            return
        for child in elem:
            compare(child, value[child.tag], f"{where}/{child.tag}", failures)
    else:
        if len(elem):
            failures.append(f"{where}: XML has children where JSON has {value!r}")
            return
        text = elem.text or ""
        if isinstance(value, bool):
            ok = text == ("true" if value else "false")
        elif isinstance(value, (int, float)):
            try:
                ok = float(text) == float(value)
            except ValueError:
                ok = False
        elif value is None:
            ok = text == ""
        else:
            ok = text == value.replace("\r\n", "\n")
        if not ok:
            failures.append(f"{where}: XML {text!r}, JSON {value!r}")


def fetch(url):
    return requests.get(url, timeout=30)


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    base = sys.argv[1].rstrip("/")
    key = sys.argv[2]
    endpoint = f"{base}/open311/v2"
    checked, failures = [], []
    for path in sys.argv[3:]:
        resource, _, query = path.partition("?")
        suffix = f"?{query}" if query else ""
        j = fetch(f"{endpoint}/{resource}.json{suffix}")
        x = fetch(f"{endpoint}/{resource}.xml{suffix}")
        checked.append(path)
        if j.status_code != x.status_code:
            failures.append(f"{path}: JSON {j.status_code}, XML {x.status_code}")
            continue
        if x.headers.get("Content-Type") != "text/xml; charset=utf-8":
            failures.append(f"{path}: XML Content-Type {x.headers.get('Content-Type')!r}")
        if not x.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>'):
            failures.append(f"{path}: no XML declaration with utf-8: {x.content[:60]!r}")
        try:
            root = ET.fromstring(x.content)
        except ET.ParseError as e:
            failures.append(f"{path}: XML does not parse: {e}")
            continue
        expected = root_name(resource, j.status_code)
        if root.tag != expected:
            failures.append(f"{path}: root {root.tag!r}, expected {expected!r}")
        if "}" in root.tag or any("}" in e.tag for e in root.iter()):
            failures.append(f"{path}: namespaced elements")
        compare(root, j.json(), f"{path}:{root.tag}", failures)
        if expected == "service_requests" and j.status_code == 200 and j.json():
            if not root.findall("request/service_request_id"):
                failures.append(f"{path}: no service_requests/request/service_request_id")
        if expected == "errors" and not root.findall("error/code"):
            failures.append(f"{path}: no errors/error/code")

    # A request posted the way FixMyStreet posts it: XML, lat/long, first and last name,
    # repeated media_url, its own attributes.
    posted = requests.post(f"{endpoint}/requests.xml", data=[
        ("api_key", key),
        ("service_code", "beleuchtung"),
        ("lat", "50.3569"),
        ("long", "7.594"),
        ("description", "title: Laterne dunkel detail: seit Tagen Submitted via FixMyStreet"),
        ("first_name", "Fix"),
        ("last_name", "MyStreet"),
        ("email", "fms-client@example.org"),
        ("media_url", "https://example.org/a.jpeg"),
        ("media_url", "https://example.org/b.jpeg"),
        ("attribute[fixmystreet_id]", "4711"),
        ("attribute[closest_address]", "Am Plan 1"),
        ("attribute[mastnummer]", "K-0412"),
    ], timeout=30)
    checked.append("POST requests.xml")
    posted_id = None
    if posted.status_code != 201:
        failures.append(f"POST requests.xml: HTTP {posted.status_code}: {posted.text[:400]}")
    else:
        root = ET.fromstring(posted.content)
        ids = [e.text for e in root.findall("request/service_request_id")]
        if root.tag != "service_requests" or len(ids) != 1 or not (ids[0] or "").isdigit():
            failures.append(f"POST requests.xml: {posted.text[:400]}")
        else:
            posted_id = ids[0]
    print(json.dumps({"checked": checked, "failures": failures, "posted": posted_id}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

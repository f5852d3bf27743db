#!/usr/bin/env python3
"""Talks to an Open311 GeoReport v2 server with two independent clients from PyPI.

Usage: open311_clients.py BASE_URL API_KEY

* georeport (GeoReport class): the service list in JSON and XML, a service definition, the
  request list and one request.
* three (codeforamerica/three, written for Python 2): discovery, the service list, a service
  definition, the request list, posting a request, reading it back and resolving its token.
  It imports itertools.ifilter, which Python 3 no longer has; the builtin filter is the same.

Prints a JSON summary of what the clients saw; any exception fails the run (exit 1).
"""
import itertools
import json
import sys

if not hasattr(itertools, "ifilter"):
    itertools.ifilter = filter  # three 0.8.0 is Python 2 code; filter is ifilter's successor

import three  # noqa: E402
from georeport import GeoReport  # noqa: E402


def as_list(value):
    """xmltodict gives a dict for one element and a list for several."""
    return value if isinstance(value, list) else [value]


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    base = sys.argv[1].rstrip("/")
    key = sys.argv[2]
    root = f"{base}/open311/v2"
    out = {}

    g = GeoReport(root)
    services = g.get_service_list()
    out["georeport_services"] = sorted(s["service_code"] for s in services)
    gx = GeoReport(root, output_format="xml")
    out["georeport_services_xml"] = sorted(s["service_code"] for s in as_list(gx.get_service_list()))
    definition = g.get_service_definition("strassenschaden")
    out["georeport_definition"] = [a["code"] for a in definition["attributes"]]
    definition_xml = gx.get_service_definition("strassenschaden")
    out["georeport_definition_xml"] = [a["code"] for a in as_list(definition_xml["attributes"]["attribute"])]

    t = three.Three(root, api_key=key)
    discovery = t.discovery()
    out["three_discovery_formats"] = discovery["endpoints"][0]["formats"]
    out["three_services"] = sorted(s["service_code"] for s in t.services())
    out["three_definition"] = t.services("strassenschaden")["service_code"]
    posted = t.post(
        "strassenschaden",
        lat="50.3569",
        long="7.5940",
        description="Tiefes Schlagloch, gemeldet mit three",
        name="Drei Python",
        **{"attribute[art]": "riss"},
    )
    if t.post_response.status_code != 201:
        raise SystemExit(f"three post: HTTP {t.post_response.status_code}: {posted}")
    rid = posted[0]["service_request_id"]
    out["three_posted"] = rid
    out["three_request"] = [r["service_request_id"] for r in t.request(rid)]
    out["three_requests"] = [r["service_request_id"] for r in t.requests()]
    out["three_requests_code"] = sorted({r["service_code"] for r in t.requests("strassenschaden")})
    out["three_token"] = t.token(posted[0]["token"])[0]["service_request_id"]

    out["georeport_requests"] = [r["service_request_id"] for r in g.get_service_requests()]
    out["georeport_requests_xml"] = [r["service_request_id"] for r in as_list(gx.get_service_requests())]
    out["georeport_request"] = g.get_service_request(rid)["service_request_id"]
    out["georeport_request_xml"] = gx.get_service_request(rid)["service_request_id"]
    out["georeport_request_status"] = g.get_service_requests(service_request_id=rid, status="open")[0]["status"]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

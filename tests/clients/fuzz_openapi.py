#!/usr/bin/env python3
"""Independent fuzz pass over the server's OpenAPI document, with schemathesis (3.x Python API).

Usage: fuzz_openapi.py BASE_URL [--max-examples N] [--seconds S]

Loads BASE_URL/api?f=json (OpenAPI 3.0), and for every operation lets schemathesis/Hypothesis
generate requests -- values that fit the schema ("positive") and values that violate it
("negative") -- including hostile values for {path} parameters. Every response must obey two rules:

  1. status < 500 (and the server must answer at all);
  2. a 4xx is an RFC 9457 problem: Content-Type application/problem+json with a JSON body whose
     "status" equals the HTTP status and which has a "title". A text/html 4xx is accepted only when
     the request's Accept header contained text/html (the server answers browsers with HTML pages).

Nothing else is checked: schemathesis' own checks (documented status codes, response schemas, ...)
are not run. All failures are collected; the run goes on until every operation had its examples or
the time budget is used (shared among the operations). The last line on stdout is a JSON
summary {"operations": n, "requests": n, "failures": [...], "errors": [...]}; the exit code is 1
when there are failures, 2 when the document could not be loaded or an operation not fuzzed, else 0.
Runs are reproducible: Hypothesis is derandomized, keeps no example database, and hashes are unsalted.
"""
import os
import sys

# Python salts str hashes per process, and set order leaks into what schemathesis generates: run
# with a fixed salt (re-executing this script if need be) so that a run repeats the previous one.
if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})

import argparse
import json
import tempfile
import time
from urllib.parse import urlsplit

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import DataGenerationMethod
from schemathesis.exceptions import SkipTest  # pytest's Skipped: a BaseException, not an Exception

BODY_EXCERPT = 300  # bytes of the body kept in a failure record
REQUEST_TIMEOUT = 15  # seconds; a request that takes longer counts as "no response"


class OutOfTime(Exception):
    """Raised inside a Hypothesis test to end an operation whose time slice is used up."""


def media_type(content_type):
    return (content_type or "").split(";")[0].strip().lower()


def asked_for_html(request):
    """Whether the request's Accept header asked for HTML, as a browser's does."""
    return "text/html" in (request.headers.get("Accept") or "").lower()


def check(response):
    """The rule a response breaks, or None when it obeys both rules."""
    status = response.status_code
    if status >= 500:
        return "5xx"
    if not 400 <= status < 500:
        return None
    mt = media_type(response.headers.get("Content-Type"))
    if mt == "text/html" and asked_for_html(response.request):
        return None
    # The CKAN Action API answers errors in CKAN's own shape, which CKAN clients (ckanapi)
    # expect: {"success": false, "error": {...}, "help": ...}.
    path = response.request.path_url.split("?")[0]
    if mt == "application/json" and path.startswith(("/api/3/action/", "/api/action/")):
        try:
            body = response.json()
        except ValueError:
            return "CKAN error body is not JSON"
        if isinstance(body, dict) and body.get("success") is False and isinstance(body.get("error"), dict):
            return None
        return "CKAN error is not in CKAN's shape"
    # WMTS answers errors as OWS ExceptionReport XML, which GDAL and QGIS show to their users.
    # (A path the router cannot even read is refused before, as a problem.)
    if path.startswith("/wmts") and mt != "application/problem+json":
        if mt != "application/xml" or b"<ExceptionReport" not in response.content \
                or b'exceptionCode="' not in response.content:
            return "WMTS error is not an OWS ExceptionReport"
        return None
    if mt != "application/problem+json":
        return "4xx is not application/problem+json"
    try:
        problem = response.json()
    except ValueError:
        return "problem body is not JSON"
    if not isinstance(problem, dict) or problem.get("status") != status:
        return "problem status does not equal the HTTP status"
    if not isinstance(problem.get("title"), str) or not problem["title"]:
        return "problem has no title"
    return None


def strategy(operation, mode):
    """Hypothesis strategy of the cases of one operation in one generation mode."""
    if mode is DataGenerationMethod.positive:
        return operation.as_strategy()
    negative = DataGenerationMethod.negative
    path = [p.definition.get("schema") for p in operation.path_parameters]
    if not path or any(schema != {"type": "string"} for schema in path):
        return operation.as_strategy(data_generation_method=negative)
    # schemathesis 3 cannot negate a plain string path parameter (it filters out every candidate,
    # and Hypothesis gives up as Unsatisfiable only after hundreds of tries, seconds per operation):
    # keep generated (positive) path values -- arbitrary strings are hostile enough -- and negate
    # the rest of the request. No other parameter to negate: schemathesis raises SkipTest.
    return operation.as_strategy().flatmap(
        lambda case: operation.as_strategy(data_generation_method=negative, path_parameters=case.path_parameters))


def sent_url(case, base_url):
    """The URL (with its query) that case.call() sends, for requests that got no response."""
    kwargs = case.as_transport_kwargs(base_url=base_url)
    return requests.Request(kwargs["method"], kwargs["url"], params=kwargs.get("params")).prepare().url


def record(case, url, rule, response=None, error=None):
    """A failure as a JSON-ready dict: what was sent and what came back."""
    parts = urlsplit(url)
    entry = {
        "rule": rule,
        "method": case.method.upper(),
        "template": case.operation.path,
        "path": parts.path,
        "query": parts.query,
        "url": url,
    }
    if response is not None:
        entry["status"] = response.status_code
        entry["content_type"] = response.headers.get("Content-Type")
        entry["body"] = response.content[:BODY_EXCERPT].decode("utf-8", "replace")
    if error is not None:
        entry["error"] = error[:BODY_EXCERPT]
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--max-examples", type=int, default=25, help="examples per operation and generation mode")
    parser.add_argument("--seconds", type=float, default=90, help="time budget of the whole run")
    args = parser.parse_args()
    base_url = args.base_url.rstrip("/")
    started = time.monotonic()

    # Hypothesis caches Unicode tables in ./.hypothesis by default: keep them out of the work tree.
    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "stadtkarte-fuzz-hypothesis"))

    session = requests.Session()
    try:
        document = session.get(f"{base_url}/api", params={"f": "json"}, timeout=REQUEST_TIMEOUT)
        document.raise_for_status()
        schema = schemathesis.from_dict(document.json(), base_url=base_url)
    except Exception as exc:  # no server, no document, or not an OpenAPI document: nothing to fuzz
        print(f"cannot load the OpenAPI document from {base_url}/api?f=json: {exc}", file=sys.stderr)
        return 2

    # Bounded, reproducible runs. No shrinking: failures are collected, never raised, so Hypothesis
    # has nothing to shrink; noisy health checks (slow generation, filtered data) are off.
    hypothesis_settings = settings(
        max_examples=args.max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
    )

    operations, errors = [], []
    for result in schema.get_all_operations():
        try:
            operations.append(result.ok())
        except Exception as exc:  # the schema of this operation could not be used
            errors.append({"operation": None, "error": str(exc)[:BODY_EXCERPT]})

    modes = [DataGenerationMethod.positive, DataGenerationMethod.negative]
    slices = [(op, mode) for op in operations for mode in modes]
    stats = {"requests": 0}
    failures = []

    for index, (operation, mode) in enumerate(slices):
        # Each (operation, mode) may use up to three times its even share of what is left of the
        # budget: one slow operation cannot starve the others, yet at normal speed no slice is cut,
        # so the run (and the requests it sends) stays the same from one run to the next.
        now = time.monotonic()
        remaining = args.seconds - (now - started)
        if remaining <= 0:
            break
        slice_end = now + min(remaining, 3 * remaining / (len(slices) - index))

        @hypothesis_settings
        @given(case=strategy(operation, mode))
        def fuzz(case):
            if time.monotonic() > slice_end:
                raise OutOfTime()
            stats["requests"] += 1
            try:
                response = case.call(base_url=base_url, session=session, timeout=REQUEST_TIMEOUT)
            except Exception as exc:  # connection reset, timeout, ...: the server did not answer
                failures.append(record(case, sent_url(case, base_url), "no response", error=repr(exc)))
                return
            rule = check(response)
            if rule:
                failures.append(record(case, response.request.url, rule, response=response))

        try:
            fuzz()
        except OutOfTime:
            pass
        except (Exception, SkipTest) as exc:  # Hypothesis could not generate cases (e.g. nothing to make negative)
            error = {"operation": f"{operation.verbose_name} ({mode.value})", "error": f"{type(exc).__name__}: {exc}"[:BODY_EXCERPT]}
            if mode is DataGenerationMethod.positive:
                errors.append(error)
            else:  # an operation may have no parameter whose schema can be violated: only a note
                print(f"note: no negative cases for {operation.verbose_name} ({type(exc).__name__})", file=sys.stderr)

    # A readable digest on stderr: one line per distinct (rule, method, template, status, content type).
    distinct = {}
    for f in failures:
        key = (f["rule"], f["method"], f["template"], f.get("status"), media_type(f.get("content_type")))
        distinct.setdefault(key, f)
    for (rule, method, template, status, ct), example in sorted(distinct.items(), key=str):
        print(f"FAIL {rule}: {method} {template} -> {status} {ct} e.g. {example['url']}", file=sys.stderr)
    print(f"{len(operations)} operations, {stats['requests']} requests, {len(failures)} failures "
          f"({len(distinct)} distinct) in {time.monotonic() - started:.1f} s", file=sys.stderr)

    print(json.dumps({"operations": len(operations), "requests": stats["requests"],
                      "failures": failures, "errors": errors}))
    return 1 if failures else 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""The batch controller of the simulated PI Web API: ``POST batch`` with a JSON object of sub-requests keyed
by request id, answered 207 with each sub-request's ``Status``, ``Headers`` and ``Content``.

As on a real server: ``ParentIds`` order the sub-requests (a missing parent is 400, a failed one 409,
circular ones 400), ``Parameters`` and ``Resource`` take JSONPath selections of the parents' answers,
``RequestTemplate`` fans out one sub-request per selected token, a JSONPath selecting nothing is a 400 of
that sub-request only, and nested batches are refused. Sub-requests go through the same router as
requests over HTTP, under the caller's identity; the fault plan can fail them one by one.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import urlsplit

from .faults import FaultInjector, draw, with_hostile_value, with_value_error
from .protocol import ApiError, Request, Response, parse_query
from .routing import Route, Router


class BatchController:
    def __init__(self, router: Router, faults: FaultInjector):
        self.router = router
        self.faults = faults
        self.sub_requests = 0  # answered so far (what a benchmark counts as the server's work)
        self._counting = threading.Lock()

    def batch(self, req: Request) -> Response:
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            raise ApiError(400, "The batch request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The batch request must be a JSON object keyed by request id.")
        results: dict[str, dict] = {}
        pending = dict(body)
        while pending:
            progressed = False
            for rid, sub in list(pending.items()):
                parents = (
                    [str(p) for p in (sub.get("ParentIds") or []) if p is not None] if isinstance(sub, dict) else []
                )
                if any(p in pending for p in parents if p in body and p != rid):
                    continue
                results[rid] = self._batch_one(req, rid, sub, parents, results, body)
                del pending[rid]
                progressed = True
            if not progressed:  # circular ParentIds
                for rid in pending:
                    results[rid] = {
                        "Status": 400,
                        "Headers": {},
                        "Content": {"Errors": ["Circular reference between ParentIds."]},
                    }
                break
        return Response(207, {rid: results[rid] for rid in body})

    def _batch_one(self, req: Request, rid: str, sub: object, parents: list[str], results: dict, body: dict) -> dict:
        if not isinstance(sub, dict):
            return {"Status": 400, "Headers": {}, "Content": {"Errors": ["Invalid request."]}}
        sub = {k.lower(): v for k, v in sub.items()}
        missing = [p for p in parents if p not in body]
        if missing:
            return {
                "Status": 400,
                "Headers": {},
                "Content": {"Errors": [f"The following ParentIds were not found: {', '.join(missing)}."]},
            }
        failed = [p for p in parents if not 200 <= results[p]["Status"] < 300]
        if failed:
            return {
                "Status": 409,
                "Headers": {},
                "Content": f"The following ParentIds did not complete successfully: {', '.join(failed)}.",
            }
        params = sub.get("parameters") or []
        template = sub.get("requesttemplate")
        try:
            selections = [jsonpath(results, p) for p in params]
        except ApiError as exc:
            return {"Status": exc.status, "Headers": {}, "Content": {"Errors": exc.messages}}
        if any(len(s) == 0 for s in selections):  # also for a RequestTemplate over an empty parent list
            return {"Status": 400, "Headers": {}, "Content": {"Errors": ["Some JSON paths did not select any tokens."]}}
        method = str(sub.get("method") or "GET").upper()
        content = sub.get("content")
        data = content.encode() if isinstance(content, str) else b""
        if template is not None:
            resource = (template or {}).get("Resource") or (template or {}).get("resource") or ""
            try:
                resources = [fill(resource, c) for c in combinations(selections)]
            except ApiError as exc:
                return {"Status": exc.status, "Headers": {}, "Content": {"Errors": exc.messages}}
            items = [self._sub_call(req, method, r, data) for r in resources]
            status = 200 if all(200 <= i["Status"] < 300 for i in items) else 207
            return {"Status": status, "Headers": {}, "Content": {"Total": len(items), "Items": items}}
        resource = str(sub.get("resource") or "")
        if resource.startswith("$."):
            try:
                values = jsonpath(results, resource)
            except ApiError as exc:
                return {"Status": exc.status, "Headers": {}, "Content": {"Errors": exc.messages}}
            if not values:  # not an empty Resource, which would silently GET the landing page
                return {
                    "Status": 400,
                    "Headers": {},
                    "Content": {"Errors": ["Some JSON paths did not select any tokens."]},
                }
            resource = str(values[0])
        elif params:
            try:
                resource = fill(resource, [s[0] for s in selections])
            except ApiError as exc:
                return {"Status": exc.status, "Headers": {}, "Content": {"Errors": exc.messages}}
        if not resource:
            return {"Status": 400, "Headers": {}, "Content": {"Errors": ["The Resource is required."]}}
        return self._sub_call(req, method, resource, data)

    def _sub_call(self, req: Request, method: str, resource: str, data: bytes) -> dict:
        with self._counting:
            self.sub_requests += 1
        url = urlsplit(resource)
        path = url.path
        marker = path.lower().find("/piwebapi")
        path = path[marker + len("/piwebapi") :] if marker >= 0 else path
        sub_req = Request(method, path, parse_query(url.query), data, req.base_url, req.user)
        fault = self.faults.sub_fault(method, resource)
        if fault in ("500", "503"):
            return {
                "Status": int(fault),
                "Headers": {},
                "Content": {
                    "Errors": [
                        "The PI Data Archive did not answer in time."
                        if fault == "503"
                        else "An unexpected error occurred."
                    ]
                },
            }
        if fault == "webexception":
            return {
                "Status": 200,
                "Headers": {},
                "Content": {
                    "WebException": {
                        "StatusCode": 500,
                        "Errors": ["Error occurred during writing of the output stream."],
                    }
                },
            }
        resp = (
            self.router.handle(sub_req)
            if path.strip("/").lower() != "batch"
            else Response(400, {"Errors": ["Nested batch requests are not supported."]})
        )
        if (
            fault in ("value_errors", "hostile")
            and "updates" not in path.lower()  # Stream Updates items are not values
            and resp.status == 200
            and isinstance(resp.content, dict)
            and isinstance(resp.content.get("Items"), list)
        ):
            plan = self.faults.plan
            pick = draw(plan.seed, resource)
            if fault == "value_errors":
                resp.content["Items"] = with_value_error(resp.content["Items"], pick)
            else:
                kind = plan.hostile_values[int(draw(plan.seed, resource, "hostile") * len(plan.hostile_values))]
                self.faults.log.add(f"hostile:{kind}")
                resp.content["Items"] = with_hostile_value(resp.content["Items"], kind, pick)
        return {
            "Status": resp.status,
            "Headers": {"Content-Type": "application/json; charset=utf-8"},
            "Content": resp.content,
        }


_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\*|\d+)\]|\['([^']+)'\]")


def jsonpath(results: dict, path: str) -> list:
    """The subset of JSONPath the batch controller's clients use: ``$.id.Content.A[0].B[*].C``."""
    if not path.startswith("$"):
        raise ApiError(400, f"Invalid JSONPath '{path}'.")
    nodes = [results]
    pos = 1
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m:
            raise ApiError(400, f"Invalid JSONPath '{path}'.")
        name, index = m.group(1) or m.group(3), m.group(2)
        nxt = []
        for node in nodes:
            if name is not None and isinstance(node, dict):
                key = next((k for k in node if k.lower() == name.lower()), None)
                if key is not None:
                    nxt.append(node[key])
            elif index == "*":
                if isinstance(node, list):
                    nxt.extend(node)
                elif isinstance(node, dict):
                    nxt.extend(node.values())
            elif index is not None and isinstance(node, list) and int(index) < len(node):
                nxt.append(node[int(index)])
        nodes = nxt
        pos = m.end()
    return nodes


def fill(resource: str, values) -> str:
    """Substitute ``{0}``, ``{1}`` ...; a bad placeholder fails this sub-request only, not the batch."""
    try:
        return resource.format(*values)
    except (IndexError, KeyError, ValueError):
        raise ApiError(400, f"The Resource '{resource}' does not match its Parameters.") from None


def combinations(selections: list[list]) -> list[tuple]:
    """RequestTemplate fan-out: one sub-request per token of the first multi-token parameter."""
    if not selections:
        return [()]
    count = max(len(s) for s in selections)
    return [tuple(s[i] if len(s) > 1 else (s[0] if s else "") for s in selections) for i in range(count)]


ROUTES = (Route("POST", "batch", BatchController.batch),)

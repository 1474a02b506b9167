"""Schemathesis against the app's own OpenAPI schema, in process: no 5xx, and every response as documented."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.service.conftest import running_api, service_settings

EXAMPLES_PER_OPERATION = 6
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    (root / "roots").mkdir()
    settings_ = service_settings(
        root, manifest_roots=[root / "roots"], submit_rate_per_minute=10_000, submit_burst=10_000, read_burst=10_000
    )
    with running_api(settings_) as a:
        yield a


def test_api_conforms_to_its_schema(fuzzed):
    """Every operation, EXAMPLES_PER_OPERATION generated requests each (a plain loop: schemathesis's pytest
    plugin does not load under pytest 9)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.client.app)
    headers = fuzzed.headers("admin")
    failures, calls = {}, 0

    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case):
            nonlocal calls
            calls += 1
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Exception as e:
            failures[operation.label] = f"{type(e).__name__}: {str(e)[:2000]}"
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
    print("schemathesis calls", calls)
    assert calls >= len(list(schema.get_all_operations()))  # every operation was exercised


def test_schema_documents_every_route(fuzzed):
    spec = fuzzed.client.get("/openapi.json").json()
    assert {"JobOptions", "BatchManifestCreate", "JobDetail", "ErrorBody", "EventPublic"} <= set(
        spec["components"]["schemas"]
    )
    assert "text/event-stream" in spec["paths"]["/v1/jobs/{job_id}/events"]["get"]["responses"]["200"]["content"]
    assert set(spec["components"]["securitySchemes"]) == {"ApiKeyHeader", "Bearer", "ApiKeyQuery", "SessionCookie"}
    submit = spec["paths"]["/v1/jobs"]["post"]["responses"]
    assert {"200", "202", "413", "415", "422", "401", "403", "429"} <= set(submit)

"""Telemetry settings: the standard OTEL_* variables, checked like every other setting, and
nothing exported unless the operator names an exporter."""

import pytest
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags

from service.config import BadSettings, Settings
from service.telemetry import LedgerSampler, telemetry_of


def test_by_default_nothing_is_traced_or_measured_but_calls_are_logged() -> None:
    settings = Settings.from_env({})
    telemetry = telemetry_of(settings)

    assert settings.access_log
    assert not telemetry.tracing
    assert not telemetry.measuring
    assert telemetry.prometheus_port is None


def test_the_standard_variables_choose_exporters_sampler_and_service_name() -> None:
    settings = Settings.from_env(
        {
            "OTEL_TRACES_EXPORTER": "otlp,console",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.1",
            "OTEL_SERVICE_NAME": "ledger-eu",
            "LEDGER_PROMETHEUS_ADDRESS": "0.0.0.0:9464",
            "LEDGER_ACCESS_LOG": "0",
        }
    )

    assert settings.traces_exporters == ("otlp_proto_grpc", "console")
    assert settings.metrics_exporters == ("otlp_proto_grpc",)
    assert settings.traces_sampler == "parentbased_traceidratio"
    assert settings.traces_sampler_ratio == 0.1
    assert settings.service_name == "ledger-eu"
    assert settings.prometheus_address == "0.0.0.0:9464"
    assert not settings.access_log


def test_otel_sdk_disabled_turns_every_exporter_off() -> None:
    settings = Settings.from_env(
        {
            "OTEL_SDK_DISABLED": "true",
            "OTEL_TRACES_EXPORTER": "otlp",
            "LEDGER_PROMETHEUS_ADDRESS": "0.0.0.0:9464",
        }
    )

    assert settings.traces_exporters == ()
    assert settings.prometheus_address is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_METRICS_EXPORTER", "otlp,statsd"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("LEDGER_PROMETHEUS_ADDRESS", "9464"),
        ("LEDGER_ACCESS_LOG", "sometimes"),
    ],
)
def test_a_wrong_telemetry_value_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(BadSettings) as raised:
        Settings.from_env({name: value})

    [problem] = raised.value.problems
    assert problem.startswith(f"{name}: must be")
    assert repr(value) in problem


def _context(*, sampled: bool) -> SpanContext:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    return SpanContext(trace_id=1, span_id=2, is_remote=False, trace_flags=flags)


def test_a_query_outside_any_traced_work_starts_no_trace() -> None:
    sampler = LedgerSampler(ParentBased(ALWAYS_ON))

    query = sampler.should_sample(None, 7, "SELECT", kind=SpanKind.CLIENT)
    call = sampler.should_sample(None, 7, "EarnPoints", kind=SpanKind.SERVER)

    assert query.decision is Decision.DROP
    assert call.decision is Decision.RECORD_AND_SAMPLE


def test_an_append_is_sampled_when_a_call_it_served_was() -> None:
    sampler = LedgerSampler(ParentBased(ALWAYS_ON))
    sampled, unsampled = Link(_context(sampled=True)), Link(_context(sampled=False))

    served_one = sampler.should_sample(None, 7, "append", links=[unsampled, sampled])
    served_none = sampler.should_sample(None, 7, "append", links=[unsampled])

    assert served_one.decision is Decision.RECORD_AND_SAMPLE
    assert served_none.decision is Decision.DROP

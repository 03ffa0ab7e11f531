"""The group commit's append, traced: one span per batch, linked to the span of every request
it served (it has no single parent), and sampled when one of those requests is."""

import asyncio

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased

from ledger.application import Ledger
from ledger.domain.commands import CreateProgram, EarnPoints, Enroll
from ledger.domain.decisions import Target
from ledger.domain.settings import EarnRate, ProgramSettings
from ledger.eventlog.memory import InMemoryEventLog
from ledger.requests import Request
from service.telemetry import LedgerSampler
from tests.conftest import FakeClock

PROGRAM = "shop"


def _provider(exporter: InMemorySpanExporter, *, sampled: bool = True) -> TracerProvider:
    provider = TracerProvider(
        sampler=LedgerSampler(ParentBased(ALWAYS_ON if sampled else ALWAYS_OFF))
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


async def _earn_under_spans(ledger: Ledger, tracer: trace.Tracer, members: list[str]) -> list[int]:
    """Earns for each member at once, each under a span of its own; their span ids."""

    async def earn(member: str) -> int:
        with tracer.start_as_current_span(f"call {member}") as span:
            request = Request(
                Target(PROGRAM, member),
                EarnPoints(5, "bonus"),
                f"earn-{member}",
                trace_id=format(span.get_span_context().trace_id, "032x"),
            )
            await ledger.execute(request)
            return span.get_span_context().span_id

    return list(await asyncio.gather(*(earn(member) for member in members)))


async def _ledger(clock: FakeClock, provider: TracerProvider, members: list[str]) -> Ledger:
    ledger = Ledger(InMemoryEventLog(), clock, shards=1, tracer_provider=provider)
    await ledger.start()
    settings = ProgramSettings(earn_rates=(EarnRate("USD", 1),))
    await ledger.execute(Request(Target(PROGRAM), CreateProgram(PROGRAM, settings), "setup"))
    for member in members:
        await ledger.execute(Request(Target(PROGRAM, member), Enroll(PROGRAM, member), member))
    return ledger


async def test_one_append_serves_many_calls_and_links_to_each(clock: FakeClock) -> None:
    exporter = InMemorySpanExporter()
    provider = _provider(exporter)
    members = ["m-1", "m-2", "m-3"]
    ledger = await _ledger(clock, provider, members)
    exporter.clear()

    callers = await _earn_under_spans(ledger, provider.get_tracer("test"), members)
    await ledger.stop()

    appends = [s for s in exporter.get_finished_spans() if s.name == "ledger.append_batch"]
    linked = sorted(link.context.span_id for span in appends for link in span.links)
    assert linked == sorted(callers)
    assert len(appends) == 1  # submitted together, committed together
    assert appends[0].parent is None
    assert appends[0].attributes is not None
    assert appends[0].attributes["ledger.batch.requests"] == len(members)


async def test_an_append_serving_only_unsampled_calls_is_not_recorded(clock: FakeClock) -> None:
    exporter = InMemorySpanExporter()
    provider = _provider(exporter, sampled=False)
    ledger = await _ledger(clock, provider, ["m-1"])

    await _earn_under_spans(ledger, provider.get_tracer("test"), ["m-1"])
    await ledger.stop()

    assert exporter.get_finished_spans() == ()


async def test_an_untraced_ledger_makes_no_span(clock: FakeClock) -> None:
    exporter = InMemorySpanExporter()
    provider = _provider(exporter)
    ledger = Ledger(InMemoryEventLog(), clock, shards=1)
    await ledger.start()
    with provider.get_tracer("test").start_as_current_span("call"):
        await ledger.execute(
            Request(
                Target(PROGRAM),
                CreateProgram(PROGRAM, ProgramSettings(earn_rates=(EarnRate("USD", 1),))),
                "setup",
            )
        )
    await ledger.stop()

    assert [s.name for s in exporter.get_finished_spans()] == ["call"]

"""tools/course_run.py's kernel client: replies are awaited in short slices, so a missed ZeroMQ wake-up costs one
slice, not the cell timeout (the hang seen on notebook 03's first widget cell)."""

from __future__ import annotations

import asyncio
import time
from queue import Empty

import pytest
from jupyter_client.channels import AsyncZMQSocketChannel

from tools import course_run
from tools.course_run import POLL_SLICE_S, SlicedPollClient, ThisPythonKernel, _SlicedPollChannel


class _MissedWakeUp:
    """Stands in for ``AsyncZMQSocketChannel.get_msg``: the reply is in the socket from the start, but the first
    wait sleeps through its whole timeout without noticing (a missed edge-triggered wake-up); any later wait
    finds it at once."""

    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    async def get_msg(self, timeout: float | None = None) -> dict:
        self.timeouts.append(timeout)
        if len(self.timeouts) == 1:
            await asyncio.sleep(timeout if timeout is not None else 3600)
            raise Empty
        return {"msg_type": "execute_reply"}


def _patch(monkeypatch: pytest.MonkeyPatch, fake: _MissedWakeUp) -> None:
    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", lambda channel, timeout=None: fake.get_msg(timeout))


def _channel() -> _SlicedPollChannel:
    return _SlicedPollChannel.__new__(_SlicedPollChannel)  # get_msg uses no socket of its own


def test_a_missed_wake_up_costs_one_slice_not_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _MissedWakeUp()
    _patch(monkeypatch, fake)
    start = time.monotonic()
    msg = asyncio.run(_channel().get_msg(timeout=600))
    assert msg == {"msg_type": "execute_reply"}
    assert time.monotonic() - start < POLL_SLICE_S + 1.0  # the unsliced channel would have waited 600 s
    assert fake.timeouts == [POLL_SLICE_S, POLL_SLICE_S]


def test_with_no_timeout_it_waits_in_slices_until_a_message_comes(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _MissedWakeUp()
    _patch(monkeypatch, fake)
    assert asyncio.run(_channel().get_msg(timeout=None)) == {"msg_type": "execute_reply"}
    assert fake.timeouts == [POLL_SLICE_S, POLL_SLICE_S]


def test_an_empty_socket_still_times_out_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float | None] = []

    async def never(channel: object, timeout: float | None = None) -> dict:
        calls.append(timeout)
        await asyncio.sleep(timeout or 0)
        raise Empty

    monkeypatch.setattr(course_run, "POLL_SLICE_S", 0.05)
    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", never)
    start = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(_channel().get_msg(timeout=0.2))
    elapsed = time.monotonic() - start
    assert 0.2 <= elapsed < 1.0, elapsed
    assert len(calls) >= 4 and all(t is not None and t <= 0.05 for t in calls)


def test_the_kernel_manager_hands_out_the_sliced_client() -> None:
    client = ThisPythonKernel().client()
    assert isinstance(client, SlicedPollClient)
    assert client.shell_channel_class is _SlicedPollChannel and client.iopub_channel_class is _SlicedPollChannel

"""Simulator fault injection: off by default, seeded, each fault as documented."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import pytest
from aiohttp import web

from bot.providers.simulator import SimulatorConfig, create_simulator_app
from bot.providers.simulator_faults import Fault, check_faults, pick_fault

MOUNT = "/v3"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"demo:secret").decode()}


class Sim:
    def __init__(self, client: Any, state: Any) -> None:
        self.client, self.state = client, state

    async def send(self, ref: str, to: str = "+15551230001") -> tuple[int, dict, Any]:
        body = {"messages": [{"to": to, "body": f"Hello {ref}", "custom_string": ref}]}
        response = await self.client.post(MOUNT + "/sms/send", json=body, headers=AUTH)
        return response.status, await response.json(), response.headers

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict]:
        response = await self.client.request(method, MOUNT + path, headers=AUTH, **kwargs)
        return response.status, await response.json()


@pytest.fixture
def make_sim(aiohttp_client):
    async def make(**config: Any) -> Sim:
        config = {"username": "demo", "api_key": "secret", "receipt_delay_s": 0} | config
        sub, state = create_simulator_app(SimulatorConfig(**config))
        root = web.Application()
        root.add_subapp(MOUNT, sub)
        return Sim(await aiohttp_client(root), state)

    return make


def numbers(count: int) -> list[str]:
    return [f"+1555123{i:04d}" for i in range(count)]


async def test_no_fault_is_on_by_default(make_sim):
    sim = await make_sim()
    statuses = [(await sim.send(str(i), to))[0] for i, to in enumerate(numbers(50))]
    assert statuses == [200] * 50
    assert sim.state.faults == {}


async def test_429_carries_retry_after_and_accepts_nothing(make_sim):
    sim = await make_sim(fail_429_rate=1.0, retry_after_s=7)
    status, body, headers = await sim.send("a")
    assert (status, body["response_code"]) == (429, "TOO_MANY_REQUESTS")
    assert headers["Retry-After"] == "7"
    assert (sim.state.sent, sim.state.sent_count("a")) == ([], 0)


async def test_500_before_accept_accepts_nothing(make_sim):
    sim = await make_sim(fail_500_rate=1.0)
    status, body, _ = await sim.send("a")
    assert (status, body["response_code"]) == (500, "INTERNAL_ERROR")
    assert sim.state.sent_count("a") == 0


async def test_500_after_accept_keeps_the_message_in_the_history(make_sim):
    sim = await make_sim(fail_500_after_accept_rate=1.0)
    status, body, _ = await sim.send("a")
    assert (status, body["response_code"], body["data"]) == (500, "INTERNAL_ERROR", None)
    assert sim.state.sent_count("a") == 1
    _, history = await sim.call("GET", "/sms/history")
    assert [item["custom_string"] for item in history["data"]["data"]] == ["a"]


async def test_slow_answer_comes_late_but_the_message_is_accepted_first(make_sim):
    sim = await make_sim(slow_rate=1.0, slow_s=0.3)
    started = time.monotonic()
    task = asyncio.create_task(sim.send("a"))
    await asyncio.sleep(0.1)
    assert sim.state.sent_count("a") == 1  # accepted while the answer is still pending
    status, _, _ = await task
    assert (status, time.monotonic() - started >= 0.3) == (200, True)


async def test_fault_draws_are_reproducible_from_the_seed(make_sim):
    config = {"fail_429_rate": 0.2, "fail_500_rate": 0.2, "fault_seed": 42}
    runs = []
    for _ in range(2):
        sim = await make_sim(**config)
        runs.append([(await sim.send(str(i), to))[0] for i, to in enumerate(numbers(40))])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 429, 500}


def test_pick_fault_uses_consecutive_bands():
    config = SimulatorConfig(fail_429_rate=0.1, fail_500_rate=0.2, slow_rate=0.3)

    class Fixed:
        def __init__(self, value: float) -> None:
            self.value = value

        def random(self) -> float:
            return self.value

    cases = {0.05: Fault.RATE_LIMITED, 0.25: Fault.FAIL_BEFORE, 0.45: Fault.SLOW, 0.7: Fault.NONE}
    assert {draw: pick_fault(config, Fixed(draw)) for draw in cases} == cases


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"fail_500_rate": 1.5}, "fail_500_rate must be a number from 0 to 1"),
        ({"slow_rate": -0.1}, "slow_rate must be a number from 0 to 1"),
        ({"slow_s": float("nan")}, "slow_s must be a number from 0 to 3600"),
        ({"fail_429_rate": 0.6, "fail_500_rate": 0.6}, "add up to 1.2"),
    ],
)
def test_bad_fault_settings_are_refused_naming_the_setting(changes, problem):
    with pytest.raises(ValueError, match=problem):
        check_faults(SimulatorConfig(**changes))


async def test_control_endpoint_sets_faults_at_run_time(make_sim):
    sim = await make_sim()
    status, body = await sim.call(
        "PUT", "/_simulator/faults", json={"fail_500_rate": 1.0, "fault_seed": 3}
    )
    assert (status, body["data"]["fail_500_rate"]) == (200, 1.0)
    assert (await sim.send("a"))[0] == 500
    await sim.call("PUT", "/_simulator/faults", json={"fail_500_rate": 0})
    assert (await sim.send("b"))[0] == 200


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"fail_500_rate": "lots"}, "fail_500_rate must be a number"),
        ({"explode": 1}, "Unknown fault setting: explode"),
        ({"fault_seed": "x"}, "fault_seed must be an integer"),
        ([1, 2], "must be a JSON object"),
    ],
)
async def test_control_endpoint_refuses_bad_settings(make_sim, payload, message):
    sim = await make_sim()
    status, body = await sim.call("PUT", "/_simulator/faults", json=payload)
    assert (status, body["response_code"]) == (400, "BAD_REQUEST")
    assert message in body["response_msg"]
    assert sim.state.config.fail_500_rate == 0.0


async def test_stats_count_requests_sends_and_duplicates(make_sim):
    sim = await make_sim(fail_500_after_accept_rate=1.0)
    await sim.send("a", "+15551230001")
    await sim.send("a", "+15551230002")  # a blind re-send after the 500
    await sim.send("b", "+15551230003")
    _, body = await sim.call("GET", "/_simulator/stats")
    data = body["data"]
    assert data["requests"] == {"POST /sms/send": 3, "GET /_simulator/stats": 1}
    assert (data["sent"], data["custom_strings"]) == (3, 2)
    assert (data["duplicated_custom_strings"], data["duplicated_count"]) == (["a"], 1)
    assert data["faults"] == {"500_after_accept": 3}


async def test_receipt_jitter_delivers_receipts_out_of_order(make_sim):
    sim = await make_sim(receipt_jitter_s=0.2, fault_seed=1)
    refs = [str(i) for i in range(20)]
    for ref, to in zip(refs, numbers(20), strict=True):
        await sim.send(ref, to)
    await sim.state.wait_idle()
    arrived = [receipt["custom_string"] for receipt in sim.state.receipts]
    assert sorted(arrived, key=int) == refs
    assert arrived != refs


async def test_duplicate_push_delivers_a_receipt_twice(make_sim, aiohttp_server):
    pushes: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        pushes.append(dict(await request.post()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    sim = await make_sim(receipt_push_url=str(server.make_url("/hook")), duplicate_push_rate=1.0)
    await sim.send("a")
    await sim.state.wait_idle()
    assert [p["custom_string"] for p in pushes] == ["a", "a"]
    assert pushes[0] == pushes[1]

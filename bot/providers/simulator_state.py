"""In-memory state of the ClickSend simulator: accounts, mailboxes, background tasks.

One simulator stands for one ClickSend tenant: every account that logs in sees
the same sent history, unread replies and receipts; accounts differ only in
balance and in the documented test-account states (§1.10).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import string
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.providers.simulator_push import Pusher

log = logging.getLogger(__name__)

TEST_API_KEY = "D83DED51-9E35-4D42-9BB9-0E34B7CA85AE"
TEST_NUMBERS = frozenset(
    {
        "+61411111111",
        "+61422222222",
        "+61433333333",
        "+61444444444",
        "+14055555555",
        "+14055555666",
        "+44777777777",
        "+861555555555",
    }
)
DELIVERED_CODE = "201"
DELIVERED_TEXT = "Success: Message received on handset."
USER_ID = SUBACCOUNT_ID = 1
FIRST_LIST_ID = 428  # as in the reference's examples
FIRST_CONTACT_ID = 552786
FIRST_RULE_ID = 1
FIRST_TEMPLATE_ID = 1
CONTACT_FIELDS = (
    "contact_id", "list_id", "phone_number", "first_name", "last_name",
    "custom_1", "custom_2", "custom_3", "custom_4", "date_added", "date_updated",
    "fax_number", "organization_name", "email", "address_line_1", "address_line_2",
    "address_city", "address_state", "address_postal_code", "address_country", "_list_name",
)  # fmt: skip
_EMAIL_ID_CHARS = string.ascii_uppercase + string.digits


@dataclass
class SimulatorConfig:
    username: str | None = None
    api_key: str | None = None
    inbound_push_url: str | None = None
    receipt_push_url: str | None = None
    receipt_delay_s: float = 0.5
    push_retry_s: float = 5.0
    push_attempts: int = 10
    currency: str = "USD"
    balance: str = "100.000000"
    # Fault injection, all off by default (bot/providers/simulator_faults.py).
    fail_429_rate: float = 0.0
    retry_after_s: float = 1.0
    fail_500_rate: float = 0.0
    fail_500_after_accept_rate: float = 0.0
    slow_rate: float = 0.0
    slow_s: float = 35.0
    receipt_jitter_s: float = 0.0
    duplicate_push_rate: float = 0.0
    fault_seed: int | None = None


@dataclass
class SimAccount:
    """Who is calling; ``active``/``banned`` model the nocredit/notactive/banned test logins."""

    username: str
    balance: Decimal
    active: bool = True
    banned: bool = False


def _test_accounts() -> dict[str, SimAccount]:
    zero = Decimal("0")
    return {
        "nocredit": SimAccount("nocredit", zero),
        "notactive": SimAccount("notactive", zero, active=False),
        "banned": SimAccount("banned", zero, banned=True),
    }


class SimulatorState:
    """Everything the simulator remembers; tests read the public lists directly."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.accounts: dict[str, SimAccount] = {}
        self.test_accounts = _test_accounts()
        self.requests: list[dict] = []
        self.sent: list[dict] = []  # /sms/history items, oldest first
        self.inbound: list[dict] = []  # unread, oldest first
        self.receipts: list[dict] = []  # unread, oldest first
        self.push_log: list[dict] = []
        self.lists: dict[int, dict] = {}  # list_id -> §6 list object (without the count)
        self.contacts: dict[int, list[dict]] = {}  # list_id -> §7 contacts, oldest first
        self._next_list_id = FIRST_LIST_ID
        self._next_contact_id = FIRST_CONTACT_ID
        self.inbound_rules: dict[int, dict] = {}  # inbound_rule_id -> §9 rule object
        self.sms_templates: dict[int, dict] = {}  # template_id -> §5 template object
        self._next_rule_id = FIRST_RULE_ID
        self._next_template_id = FIRST_TEMPLATE_ID
        self._inbound_ids: set[str] = set()
        self._sent_counts: Counter[str] = Counter()
        self._last_send: dict[tuple[str, str], float] = {}
        self._tasks: set[asyncio.Task] = set()
        self._closed = False
        self.rng = random.Random(config.fault_seed)  # noqa: S311 - fault draws, not secrets
        self.faults: Counter[str] = Counter()
        self._pusher = Pusher(
            retry_s=config.push_retry_s, attempts=config.push_attempts, attempt_log=self.push_log
        )

    # -- accounts ----------------------------------------------------------------

    def account(self, username: str) -> SimAccount:
        """The caller's account, opened with the configured balance on first use."""
        if username not in self.accounts:
            self.accounts[username] = SimAccount(username, Decimal(self.config.balance))
        return self.accounts[username]

    # -- contact lists (§6, §7) ---------------------------------------------------

    def add_list(self, name: str) -> int:
        """A new, empty contact list; its ``list_id``."""
        list_id = self._next_list_id
        self._next_list_id += 1
        email_id = "".join(secrets.choice(_EMAIL_ID_CHARS) for _ in range(16))
        self.lists[list_id] = {"list_id": list_id, "list_name": name, "list_email_id": email_id}
        self.contacts[list_id] = []
        return list_id

    def add_list_contacts(self, list_id: int, phone_numbers: Sequence[str]) -> list[dict]:
        """Append one contact per number (kept as given); KeyError for an unknown list."""
        contacts = self.contacts[list_id]
        now = str(int(time.time()))
        added = []
        for phone_number in phone_numbers:
            contact: dict[str, Any] = dict.fromkeys(CONTACT_FIELDS)
            contact.update(
                contact_id=self._next_contact_id,
                list_id=list_id,
                phone_number=phone_number,
                date_added=now,
                date_updated=now,
                _list_name=self.lists[list_id]["list_name"],
            )
            self._next_contact_id += 1
            contacts.append(contact)
            added.append(contact)
        return added

    def list_item(self, list_id: int) -> dict:
        """The §6 list object, ``_contacts_count`` included."""
        return {**self.lists[list_id], "_contacts_count": len(self.contacts[list_id])}

    # -- inbound rules and templates (§9, §5) ----------------------------------------

    def add_inbound_rule(self, fields: dict[str, Any]) -> dict:
        """Store a §9 rule (fields already checked) under the next ``inbound_rule_id``."""
        rule = {"inbound_rule_id": self._next_rule_id, **fields}
        self.inbound_rules[self._next_rule_id] = rule
        self._next_rule_id += 1
        return rule

    def add_sms_template(self, name: str, body: str) -> dict:
        """Store a §5 template under the next ``template_id``."""
        template = {"template_id": self._next_template_id, "body": body, "template_name": name}
        self.sms_templates[self._next_template_id] = template
        self._next_template_id += 1
        return template

    # -- outbound ----------------------------------------------------------------

    def sent_count(self, custom_string: str) -> int:
        """How many accepted sends carried this custom_string: >1 means a duplicate send."""
        return self._sent_counts[custom_string]

    def send_counts(self) -> dict[str, int]:
        """custom_string → accepted sends carrying it (a copy)."""
        return dict(self._sent_counts)

    def reseed(self, seed: int) -> None:
        self.rng.seed(seed)

    def throttled(self, to: str, body: str, window_s: float = 10.0) -> bool:
        last = self._last_send.get((to, body))
        return last is not None and time.monotonic() - last < window_s

    def record_sent(self, item: dict) -> None:
        """Keep an accepted message for /sms/history and schedule its delivery receipt."""
        self.sent.append(item)
        self._last_send[(item["to"], item["body"])] = time.monotonic()
        if item.get("custom_string") is not None:
            self._sent_counts[item["custom_string"]] += 1
        self.spawn(self._deliver_receipt(item))

    def known_inbound(self, message_id: str) -> bool:
        return message_id in self._inbound_ids

    # -- inbound -----------------------------------------------------------------

    async def inject_inbound(
        self, from_number: str, to_number: str, body: str, *, timestamp: int | None = None
    ) -> dict:
        """A reply arrives: store it unread for GET /sms/inbound and push it when configured.

        The reply is linked to the last message we sent to ``from_number``, the way
        ClickSend fills original_message_id and custom_string for threading.
        """
        original = self._last_sent_to(from_number)
        item = {
            "timestamp": str(int(time.time()) if timestamp is None else timestamp),
            "from": from_number,
            "body": body,
            "original_body": original["body"] if original else None,
            "original_message_id": original["message_id"] if original else None,
            "to": to_number,
            "custom_string": original["custom_string"] if original else None,
            "message_id": str(uuid.uuid4()).upper(),
            "_keyword": (body.split() or [""])[0].lower(),
        }
        self.inbound.append(item)
        self._inbound_ids.add(item["message_id"])
        if self.config.inbound_push_url:
            self.spawn(self._push(self.config.inbound_push_url, inbound_push_fields(item)))
        return item

    def _last_sent_to(self, number: str) -> dict | None:
        return next((m for m in reversed(self.sent) if m["to"] == number), None)

    # -- receipts ----------------------------------------------------------------

    async def _deliver_receipt(self, item: dict) -> None:
        jitter = self.config.receipt_jitter_s
        extra = self.rng.uniform(0, jitter) if jitter else 0.0  # out of order when > 0
        await asyncio.sleep(self.config.receipt_delay_s + extra)
        receipt = {
            "timestamp_send": item["date"],
            "timestamp": str(int(time.time())),
            "message_id": item["message_id"],
            "status_code": DELIVERED_CODE,
            "status_text": DELIVERED_TEXT,
            "error_code": None,
            "error_text": None,
            "custom_string": item.get("custom_string"),
            "_message_type": "sms",
        }
        self.receipts.append(receipt)
        item.update(status_code=DELIVERED_CODE, status_text=DELIVERED_TEXT)
        if self.config.receipt_push_url:
            await self._push(self.config.receipt_push_url, receipt_push_fields(receipt))

    async def _push(self, url: str, fields: dict[str, str]) -> None:
        """Push once, or twice when the duplicate-push fault is drawn."""
        await self._pusher.push(url, fields)
        if self.config.duplicate_push_rate and self.rng.random() < self.config.duplicate_push_rate:
            self.faults["duplicate_push"] += 1
            await self._pusher.push(url, fields)

    # -- background tasks --------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background, tracked so close() can stop it."""
        if self._closed:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator background task failed", exc_info=task.exception())

    async def wait_idle(self) -> None:
        """Wait until every receipt and push in flight has finished (for tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel receipts and pushes still pending and close the push client."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._pusher.close()


def inbound_push_fields(item: dict) -> dict[str, str]:
    """Exactly the §3.5 push variables, as form strings (null → empty)."""
    fields = ("timestamp", "to", "from", "body", "original_body", "original_message_id")
    out = {name: _form(item.get(name)) for name in fields}
    out["custom_string"] = _form(item.get("custom_string"))
    out["user_id"] = str(USER_ID)
    out["subaccount_id"] = str(SUBACCOUNT_ID)
    out["message_id"] = item["message_id"]
    return out


def receipt_push_fields(receipt: dict) -> dict[str, str]:
    """Exactly the §4.5 push variables; the simulator only ever delivers."""
    return {
        "timestamp_send": _form(receipt["timestamp_send"]),
        "timestamp": _form(receipt["timestamp"]),
        "message_id": receipt["message_id"],
        "status": "Delivered" if receipt["status_code"] == DELIVERED_CODE else "Undelivered",
        "status_code": _form(receipt["status_code"]),
        "status_text": _form(receipt["status_text"]),
        "error_code": _form(receipt["error_code"]),
        "error_text": _form(receipt["error_text"]),
        "custom_string": _form(receipt["custom_string"]),
        "user_id": str(USER_ID),
        "subaccount_id": str(SUBACCOUNT_ID),
        "message_type": "sms",
    }


def _form(value: object) -> str:
    return "" if value is None else str(value)

"""AMQP (RabbitMQ) publishing with aio-pika: domain events for other systems.

Each message is published to a durable topic exchange with the event type as routing key
(``case.opened``, ``case.stage_changed``, ``deadline.warning``, ``deadline.breached``,
``case.closed``; messages to other recipients as ``notify.<recipient>.<template>``), the
idempotency key as message id, JSON as body, persistent, and with publisher confirms: ``send``
returns only once the broker has taken the message, so an unconfirmed one is retried rather
than lost. Consumers bind their own queues (``case.#``, ``deadline.*``, ``#``).

Activities run in threads, aio-pika is asyncio: the channel keeps one event loop in a thread
of its own, with one robust connection that all sends share.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustConnection

from activities.events import EVENTS_RECIPIENT
from activities.messaging import Envelope

T = TypeVar("T")


def routing_key(message: Envelope) -> str:
    if message.recipient == EVENTS_RECIPIENT:
        return message.template
    return f"notify.{message.recipient}.{message.template}"


class AmqpChannel:
    def __init__(self, url: str, exchange: str, *, timeout: float = 10.0) -> None:
        self._url = url
        self._exchange_name = exchange
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kesu-amqp", daemon=True
        )
        self._thread.start()
        self._connection: AbstractRobustConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._connecting = asyncio.Lock()

    def send(self, message: Envelope) -> None:
        self._run(self._publish(message))

    def close(self) -> None:
        """Close the connection and stop the loop; the channel cannot send afterwards."""
        if not self._thread.is_alive():
            return
        try:
            self._run(self._disconnect())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result(timeout=self._timeout * 2)
        except TimeoutError:
            future.cancel()
            raise ConnectionError("the AMQP broker did not answer in time") from None

    async def _publish(self, message: Envelope) -> None:
        exchange = await self._exchange_ready()
        body = json.dumps(dict(message.params), ensure_ascii=False).encode("utf-8")
        await exchange.publish(
            aio_pika.Message(
                body,
                message_id=message.idempotency_key,
                type=message.template,
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                timestamp=datetime.now(UTC),
                app_id="kesu",
                headers={"case_id": message.case_id, "recipient": message.recipient},
            ),
            routing_key=routing_key(message),
            # Nobody bound to an event is not a failure: publishing is fire-to-exchange.
            mandatory=False,
            timeout=self._timeout,
        )

    async def _exchange_ready(self) -> AbstractExchange:
        async with self._connecting:
            if self._exchange is None:
                # connect_robust reconnects by itself after the first connection succeeded.
                self._connection = await aio_pika.connect_robust(self._url, timeout=self._timeout)
                channel = await self._connection.channel(publisher_confirms=True)
                self._exchange = await channel.declare_exchange(
                    self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
                )
            return self._exchange

    async def _disconnect(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._connection = self._exchange = None

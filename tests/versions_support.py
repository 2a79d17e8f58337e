"""Two versions of an insurance claim process, as a designer would edit it, and a worker on a
definitions folder the test writes (published as the worker publishes at start)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.channels.config import ChannelSetup
from runtime import publications
from service.cases import Kesu
from service.versions import PublishedDefinitions
from worker import build_activities, build_worker, serving_definitions

CLAIM_V1 = """\
process: claim
version: 1
title: 理赔 Claim
roles: [agent, supervisor]
opened_by: [agent]
pii_roles: [supervisor]
fields:
  customer_id: {type: string, required: true}
  description: {type: text, pii: true, title: 事由}
  assignee: {type: string}
stages:
  intake:
    title: 受理
    initial: true
    on: {accept: {to: handling, roles: [agent]}}
  handling:
    title: 处理
    on: {close: {to: closed, roles: [agent]}}
  closed: {title: 结案, final: true}
deadlines:
  response: {stop: {leave: intake}, within: 1h, clock: calendar}
  resolution: {stop: {enter: closed}, within: 15d, clock: calendar}
"""

# handling renamed investigation, a review stage added, description renamed complaint_text,
# the response clock dropped and an investigation clock added.
CLAIM_V2 = """\
process: claim
version: 2
title: 理赔 Claim
roles: [agent, supervisor]
opened_by: [agent]
pii_roles: [supervisor]
fields:
  customer_id: {type: string, required: true}
  complaint_text: {type: text, pii: true, title: 投诉内容}
  assignee: {type: string}
stages:
  intake:
    title: 受理
    initial: true
    on: {accept: {to: investigation, roles: [agent]}}
  investigation:
    title: 调查
    on:
      review: {to: review, roles: [agent]}
      close: {to: closed, roles: [agent]}
  review:
    title: 复核
    on: {close: {to: closed, roles: [supervisor]}}
  closed: {title: 结案, final: true}
deadlines:
  resolution: {stop: {enter: closed}, within: 15d, clock: calendar}
  investigation_time:
    start: {enter: investigation}
    stop: {leave: investigation}
    within: 5d
    clock: calendar
"""


def write_definitions(folder: Path, *texts: str) -> Path:
    (folder / "templates").mkdir(parents=True, exist_ok=True)  # these processes send none
    for old in folder.glob("*.yaml"):
        old.unlink()
    for text in texts:
        name = text.split("process:", 1)[1].split()[0]
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


def publish_folder(registry: PublishedDefinitions, folder: Path, by: str = "designer") -> None:
    registry.publish(publications(folder), by=by)


@dataclass
class VersionedHarness:
    kesu: Kesu
    client: Client
    registry: PublishedDefinitions
    sessions: sessionmaker[Session]
    folder: Path
    task_queue: str


@asynccontextmanager
async def claim_worker(
    client: Client, folder: Path, channels: ChannelSetup | None = None
) -> AsyncIterator[VersionedHarness]:
    """A worker on claim v1, written to ``folder/defs``, with its database in ``folder``."""
    database_url = f"sqlite:///{folder / 'kesu.db'}"
    definitions = write_definitions(folder / "defs", CLAIM_V1)
    async with versioned_worker(client, database_url, definitions, channels) as harness:
        yield harness


def publish_claim_v2(harness: VersionedHarness) -> None:
    publish_folder(harness.registry, write_definitions(harness.folder, CLAIM_V2))


@asynccontextmanager
async def versioned_worker(
    client: Client, database_url: str, folder: Path, channels: ChannelSetup | None = None
) -> AsyncIterator[VersionedHarness]:
    """A worker that publishes ``folder`` at start, and a Kesu on the registry alone."""
    activities = build_activities(database_url, channels)
    registry = PublishedDefinitions(activities.sessions)
    publish_folder(registry, folder, by="worker")
    task_queue = f"kesu-versions-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with (
            serving_definitions(activities.sessions),
            build_worker(client, task_queue, activities, executor),
        ):
            yield VersionedHarness(
                kesu=Kesu(client, {}, task_queue, registry),
                client=client,
                registry=registry,
                sessions=activities.sessions,
                folder=folder,
                task_queue=task_queue,
            )

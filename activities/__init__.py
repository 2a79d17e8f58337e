"""kesu's activities: everything a case does outside its workflow.

``inputs`` (the activities' inputs and results, light enough for workflow code to import),
``storage`` (SQL: steps, audit chain, projections, migrations), ``messaging`` (the outbox and its
delivery), ``channels`` (console, SMTP, webhook, AMQP), ``templates``, ``events`` (domain
events) and ``halts`` (an operator's alert when a case halts). This package imports nothing
on purpose: workflow code imports ``activities.inputs`` and must not pull SQLAlchemy or
network clients in with it.
"""

__all__ = [
    "channels",
    "events",
    "halts",
    "inputs",
    "messaging",
    "storage",
    "template_checks",
    "templates",
]

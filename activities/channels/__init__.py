"""Message channels: where the outbox dispatcher sends a message, by recipient role.

Each channel implements ``activities.messaging.Channel``; ``config`` builds them from the
operator's channel file. The console channel (``activities.messaging.ConsoleChannel``) is the
embedded default.
"""

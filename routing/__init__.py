"""Skill-based routing (agents, queues, reservations in Redis). Arrives with the routing issue; until then the
engine emits a Twilio ``<Enqueue>`` and stores the call's routing request on its session."""

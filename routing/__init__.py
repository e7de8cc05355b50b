"""Skill-based call routing on Redis: agents with skills and levels, queues, atomic claims, offers, statistics.

Self-contained (it imports nothing of the rest of the project). :mod:`routing.acd` is the distributor the rest of the
system calls; :mod:`routing.model` the values it deals in; :mod:`routing.registry` keeps the agents,
:mod:`routing.callbacks` the callback requests, :mod:`routing.stats` the queue counters; :mod:`routing.claims` calls
the Lua steps of :mod:`routing.scripts` on the keys of :mod:`routing.keys`; :mod:`routing.config` reads queues.yaml.
"""

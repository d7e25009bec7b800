"""Queues as the broker holds them: which exist, how deep they are and how that changes, moving them.

One job per module: :mod:`.names` (which queues there are), :mod:`.probe`
(their depth, and purge), :mod:`.trend` (depth over time), :mod:`.migrate`
(moving the waiting messages to another broker).
"""

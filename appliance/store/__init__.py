"""The ground floor: what every other part stands on to keep its state.

- ``keys``: the Redis key layout, the only module that spells a key;
- ``client``: connecting to Redis, reading hashes as text, optimistic transactions;
- ``card``: room left on the card, and how a full one is said.
"""

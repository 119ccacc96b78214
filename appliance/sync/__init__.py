"""The sync hub: tablets push named mutations, the box applies them in one order and relays
every change to every tablet (see docs/sync.md)."""

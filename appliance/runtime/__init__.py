"""The box's runtime, one module per concern: the supervisor that starts and restarts the
parts (``appliance serve``), the private Redis, systemd's readiness and watchdog protocol, and
the background process (mDNS announcement and back office forwarding). systemd runs the same
parts as units on the box."""

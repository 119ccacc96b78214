"""Signed updates: a new version of the appliance, installed beside the running one, switched
to atomically, and given up by itself when the box is not healthy two minutes later.

A bundle is a tar file: ``manifest.json`` (the version and the SHA-256 of every wheel),
``manifest.sig`` (its Ed25519 signature) and ``wheels/*.whl`` (the appliance and all of its
dependencies, built for the box). The box takes a bundle signed by a key whose public half it
holds (``/etc/comptoir/update-keys/*.pub`` on the read-only root, put there by image/build);
anything else is refused before it is stored.

Two halves, two users:

- ``receive.receive`` (the setup page, ``appliance update FILE``) checks the bundle and leaves it as
  ``versions/incoming.tar`` on the data partition: quick, and all a process of the
  unprivileged ``comptoir`` user may do.
- ``apply.apply`` (``comptoir-update.service``, root, started by a path unit when that file appears)
  checks it again, installs it into a new virtual environment ``versions/VERSION-ID/``, points
  the ``versions/current`` link at it (a rename: the switch is atomic), restarts the services
  (the launcher ``/usr/local/bin/appliance`` runs ``current``, else the card's own
  ``/opt/comptoir/venv``), then waits: healthy two minutes after the switch (``/healthz``
  answers 200 with the new version), the version is kept and the one before it stays as
  ``previous``; otherwise ``current`` goes back and the services restart again. It always runs
  from the card's own version, which an update cannot break. A power cut while it waits
  leaves ``versions/trial.json``: the next boot waits again, and judges.

What happened is kept in ``versions/state.json`` for the page and the CLI.

Here: ``bundle`` (the format, signing and checking: both halves), ``receive``, ``apply``, and
``versions`` (the versions' directory on the data partition, which both read and write).
"""

"""Who may do what on the box.

- ``owner``: the one-time setup code, the owner's password, login codes and sessions;
- ``devices``: the tablets, paired with a one-time PIN, each with its own bearer token;
- ``origins``: the web apps allowed to call the API from a browser (CORS);
- ``limiter``: wrong guesses of any of those secrets, counted in one place.
"""

"""The key layout lives in ``appliance.store.keys`` (the store floor); this name stays so that
scripts written against it (``from appliance import keys``) keep working."""

from appliance.store.keys import *  # noqa: F403

"""The card's free-space check lives in ``appliance.store.card`` (the store floor); this name
stays so that scripts written against it keep working."""

from appliance.store.card import *  # noqa: F403

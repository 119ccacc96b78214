"""The Wi-Fi rules that need no radio: nmcli's terse lines, and when the access point opens
and closes. The radio itself (NetworkManager, a virtual Wi-Fi card, the access point, joining
a network) is tested on the SD image under qemu: tests/test_image.py."""

from __future__ import annotations

from appliance.system import wifi


def test_terse_lines_keep_escaped_colons_and_backslashes() -> None:
    assert wifi.fields(r"Caf\\é\:Bar:78:WPA2") == [r"Caf\é:Bar", "78", "WPA2"]
    assert wifi.fields("wlan0:wifi:connected:comptoir-wifi") == ["wlan0", "wifi", "connected", "comptoir-wifi"]
    assert wifi.fields("::") == ["", "", ""]


def test_the_access_point_opens_after_the_grace_and_closes_when_a_network_is_back() -> None:
    lost = 1000.0
    assert wifi.decide(False, False, lost, lost + wifi.GRACE - 1) is None  # a cable moved, a router rebooting
    assert wifi.decide(False, False, lost, lost + wifi.GRACE) == "open"
    assert wifi.decide(False, True, lost, lost + 10 * wifi.GRACE) is None  # open: stays open
    assert wifi.decide(True, True, None, lost) == "close"
    assert wifi.decide(True, False, None, lost) is None

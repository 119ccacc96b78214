"""Finding things on the shop's network: tablets find the box (mDNS), the box finds printers
(mDNS browsing, a bounded port 9100 probe, a Bluetooth scan). Probes and scans run only when
someone asks (the CLI, later the setup page), never in the background."""

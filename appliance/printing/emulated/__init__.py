"""A receipt printer in software: ``engine`` interprets ESC/POS as a printer's engine does
and turns it into receipts (the job page's pictures use it too); ``printer`` wraps it with a
small receive buffer, a print speed and a power switch, and is both the emulated printer of
the quick start (``file://DIR``) and the tests' fake network printers."""

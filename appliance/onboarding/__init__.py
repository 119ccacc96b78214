"""A new box's first minutes: the emulated printer it prints on before any real one, the
welcome and test receipts (the setup page's address and the code that claims the box), and the
first real printer it finds, which takes over from the emulated one.

Out of the print path on purpose: the worker pool and the printer search know nothing of a
box being new; the CLI and the background process call in here when it is.
"""

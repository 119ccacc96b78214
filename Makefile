# The card image (root: it builds a root filesystem). See image/README.md.
.PHONY: image image-test screenshots

image:
	PYTHON=$$(test -x .venv/bin/python && echo .venv/bin/python || echo python3) image/build dist

image-test: image
	COMPTOIR_IMAGE=$$(ls -t dist/comptoir-*.img.xz | head -1) .venv/bin/python -m pytest -v tests/test_image.py

# The README's pictures of the setup page, taken by its browser tests (a test run alone writes
# them to a temporary folder).
screenshots:
	COMPTOIR_SCREENSHOTS=$(CURDIR)/docs/screenshots .venv/bin/python -m pytest -q tests/test_setup_page.py tests/test_web_apps.py

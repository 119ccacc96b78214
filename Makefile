# The card image (root: it builds a root filesystem). See image/README.md.
.PHONY: image image-test

image:
	PYTHON=$$(test -x .venv/bin/python && echo .venv/bin/python || echo python3) image/build dist

image-test: image
	COMPTOIR_IMAGE=$$(ls -t dist/comptoir-*.img.xz | head -1) .venv/bin/python -m pytest -v tests/test_image.py

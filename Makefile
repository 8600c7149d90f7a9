# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
# Debian libraries that Open3D and Qt (offscreen) load at import time, the ones Qt's xcb platform
# plugin needs on a real X desktop (ldd of PyQt5's libqxcb.so and libQt5XcbQpa.so), and Xvfb, the X
# server the app tests start to run it under xcb (tests/test_app_xcb.py).
DEB_PKGS := libusb-1.0-0 libgomp1 libgl1 libegl1 libglib2.0-0 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3 \
	libx11-xcb1 libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-image0 libxcb-render-util0 \
	libxcb-randr0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 xvfb xdotool
export QT_QPA_PLATFORM ?= offscreen
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test test-all lint deps system-deps clean

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found; install Python 3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

system-deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing Debian packages:$$missing (run as root or install them)" >&2; fi; fi

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(MAKE) --no-print-directory system-deps
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*; touch $(STAMP)

deps: $(STAMP)

demo: $(STAMP) system-deps
	$(PY) scripts/demo.py

test: $(STAMP) system-deps
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=15

test-all: $(STAMP) system-deps
	$(PY) -m pytest -q -n 2 --dist loadfile -m ''

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

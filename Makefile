# guardroom: the two commands a new user runs are `make demo` and `make test`.
# Both set everything up on a fresh Debian/Ubuntu/Raspberry Pi OS machine first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup system-deps venv test test-fast test-hass hass-venv demo bench bench-e2e clean i18n

setup: system-deps venv

system-deps:
	@bash packaging/install-system-deps.sh

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py $(wildcard core/*.py core/*.pxd) drivers/modbus/_steady.pyx
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel "Cython>=3.0"
	$(PY) -m pip install -q -e '.[test]'
	@$(PY) -c "import guardroom.core as c; print('guardroom engine build:', c.BUILD)"
	@touch $(STAMP)

# The whole suite: engine (both builds), drivers against their emulators, relay against a
# real Mosquitto, daemon, console over a pty, and the hardware-in-the-loop suite.
test: setup
	GUARDROOM_REQUIRE_COMPILED=1 $(PY) -m pytest -q -p no:cacheprovider

# Opt-in: guardroom's discovery in a real Home Assistant (its own venv, ~300 MB, a few minutes
# to install once; the test itself takes ~15 s). Not part of `make test`.
HASS_VENV ?= .hass-venv
hass-venv: $(HASS_VENV)/bin/hass

$(HASS_VENV)/bin/hass: packaging/hass-2024.3.txt
	@test -x $(HASS_VENV)/bin/python || $(PYTHON) -m venv $(HASS_VENV)
	$(HASS_VENV)/bin/python -m pip install -q -r packaging/hass-2024.3.txt
	@touch $@

test-hass: setup hass-venv
	GUARDROOM_HASS=$(abspath $(HASS_VENV))/bin/hass $(PY) -m pytest -q -p no:cacheprovider -m hass tests/relay/test_home_assistant.py

demo: setup
	$(VENV)/bin/guardroom demo $(ARGS)

bench: setup
	$(VENV)/bin/guardroom bench core

bench-e2e: setup
	$(VENV)/bin/guardroom bench e2e

# Message catalogs: extract the marked strings (Babel), merge them into the zh-CN .po (then
# translate what is new in firmware_py/locale/zh_CN/LC_MESSAGES/guardroom.po) and compile .mo.
LOCALE := firmware_py/locale
i18n: setup
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ -k command:4 -k say -k title -k t -k Msg -k CommandError -k UsageError -k ConfigEditError --sort-output --no-location \
		--project=guardroom -o $(LOCALE)/guardroom.pot .
	$(VENV)/bin/pybabel update -i $(LOCALE)/guardroom.pot -d $(LOCALE) -D guardroom -l zh_CN \
		--no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d $(LOCALE) -D guardroom -l zh_CN --statistics

clean:
	rm -rf build dist *.egg-info core/*.c core/*.so $(VENV)

# capx-bot: `make run` to chat with the bot in a terminal, `make test` to run every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BOT := $(BIN)/capx-bot
PIP_INSTALL := $(BIN)/pip install --quiet --disable-pip-version-check
# Exact versions with their hashes: the runtime's, and the runtime's with every extra (tests).
LOCK := requirements.lock
TEST_LOCK := requirements-test.lock
PIP_TOOLS := pip-tools==7.6.2

.PHONY: run test lint i18n bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The lock, exactly and nothing else, then the project itself (its build backend is locked).
$(BIN)/.installed: $(LOCK) pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) --require-hashes --no-deps -r $(LOCK)
	$(PIP_INSTALL) --no-deps --no-build-isolation -e .
	touch $@

$(BIN)/.installed-test: $(TEST_LOCK) $(BIN)/.installed
	$(PIP_INSTALL) --require-hashes --no-deps -r $(TEST_LOCK)
	touch $@

# The embedded default database: the capacity directory and the demo community, seeded once.
var/.seeded: $(BIN)/.installed
	$(BOT) seed --demo
	touch $@

run: var/.seeded
	$(BOT) console

test: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

i18n: $(BIN)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k t -k plural:1,2 --add-comments=Translators: --no-location --sort-output \
		--project=capx-bot --copyright-holder="capx-bot contributors" \
		-o locales/messages.pot .
	$(BIN)/pybabel --quiet update --ignore-obsolete -i locales/messages.pot -d locales -D messages
	$(BIN)/pybabel compile --statistics -d locales -D messages

bench: $(BIN)/.installed-test
	$(BIN)/python -m bench.core
	$(BIN)/python -m bench.matching
	$(BIN)/python -m bench.telegram
	$(BIN)/python -m bench.matrix
	$(BIN)/python -m bench.reminders
	$(BIN)/python -m bench.discord
	$(BIN)/python -m bench.capx_sync

# Refreshes both locks to the newest versions pyproject.toml allows. They are made from PyPI
# alone: pip's configuration files (local mirrors) and find-links are left out, so the hashes
# are those of PyPI's files. The runtime lock is held to the test lock's versions.
LOCK_COMPILE := env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" \
	$(BIN)/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links --build-deps-for=editable

lock: | $(BIN)/python
	$(PIP_INSTALL) $(PIP_TOOLS)
	$(LOCK_COMPILE) --all-extras -o $(TEST_LOCK) pyproject.toml
	$(LOCK_COMPILE) -c $(TEST_LOCK) -o $(LOCK) pyproject.toml

clean:
	rm -rf $(VENV) var

# capx-bot: `make run` to chat with the bot in a terminal, `make test` to run every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BOT := $(BIN)/capx-bot

.PHONY: run test lint i18n bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[test]"
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
	$(BIN)/python bench/matching.py
	$(BIN)/python -m bench.telegram
	$(BIN)/python -m bench.matrix

clean:
	rm -rf $(VENV) var

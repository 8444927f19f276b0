# The two commands of the README:
#   make demo   fetch the assets, build, and chat with the default model through the default policy
#   make test   fetch the assets, build, and run every check and test (what CI runs)
# Both are idempotent: a second run downloads nothing and rebuilds only what changed.

CARGO ?= cargo
PROMPT ?= What is the capital of France?

.PHONY: demo test fetch build fmt-check clippy unit-tests deny

demo: fetch
	$(CARGO) run --quiet -- chat --prompt "$(PROMPT)"

test: fetch fmt-check unit-tests clippy

fetch:
	$(CARGO) run --quiet -- fetch

fmt-check:
	$(CARGO) fmt --all -- --check

unit-tests:
	sh tools/ci/install-prometheus.sh
	sh tools/ci/install-chromium.sh
	sh tools/ci/openai-venv.sh
	$(CARGO) test --workspace --lib --bins --tests --examples
	$(CARGO) test --workspace --doc

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Supply chain (deny.toml): licenses, banned and duplicate crates, sources.
# Not part of `make test` yet. Advisories need the RustSec database from
# github.com: run `cargo deny check advisories` where it is reachable.
deny:
	command -v cargo-deny >/dev/null || $(CARGO) install cargo-deny --locked
	$(CARGO) deny --offline check licenses bans sources

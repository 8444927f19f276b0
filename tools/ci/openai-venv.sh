#!/bin/sh
# Installs the official `openai` Python client into a venv under the asset
# cache, for tests/serve_openai_python.rs. Idempotent: does nothing when the
# pinned version is already there. Debian's system pip is externally managed,
# hence the venv.
set -eu
OPENAI_VERSION="3.51.0"
HOME_DIR="${PALISADE_HOME:-$HOME/.cache/palisade}"
VENV="$HOME_DIR/venv-test"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import openai, sys; sys.exit(openai.__version__ != '$OPENAI_VERSION')" 2>/dev/null; then
    exit 0
fi
mkdir -p "$HOME_DIR"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "openai==$OPENAI_VERSION"
"$VENV/bin/python" -c "import openai; print('openai', openai.__version__, 'in $VENV')"

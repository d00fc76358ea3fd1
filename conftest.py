"""Settings every test session shares, under tests/ and plugins/ alike."""

import os

from parley.crypto import KEYS_ENV, generate_key

# Stores are encrypted, so tests need a key. One random key per session,
# set in os.environ so that daemon processes the tests start inherit it.
# A key the caller already set wins.
os.environ.setdefault(KEYS_ENV, generate_key("test"))

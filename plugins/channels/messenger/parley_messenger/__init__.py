"""parley-messenger: Facebook Messenger and Instagram channels for parley.

The distribution contains two plugins, each with its own entry point, config
section and channel: :mod:`parley_messenger.messenger` (``messenger``) and
:mod:`parley_messenger.instagram` (``instagram``). They share the Send API
client, the window rules, the signature check and the webhook parser.
"""

__version__ = "0.1.0"

"""parley: conversational customer messaging driven by plugins.

Plugins import what they need from this module only: the ``hookimpl``
marker, the base classes they subclass and the records they exchange with
the core.
"""

from parley.automation_kinds import ActionHandler, KindRegistry
from parley.automations import IncomingCall
from parley.channels import Channel, InboundBatch, Throughput
from parley.checks import ConfigProblem
from parley.context import DeliveryReceipt, PluginContext, Poller
from parley.errors import (
    ConfigError,
    DeliveryError,
    FatalSyncError,
    ParleyError,
    PluginError,
    RetriableSyncError,
    SendBlocked,
    SignatureError,
    SkippableSyncError,
    SyncError,
    WebhookRejected,
)
from parley.hookspecs import hookimpl
from parley.models import (
    AGENT_REPLY_KIND,
    AddressKind,
    ChannelAddress,
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    Contact,
    ContactRecord,
    DeliveryStatus,
    InboundMessage,
    OrderStatus,
    OrderStatusEvent,
    OutboundMessage,
    Purpose,
    SendResult,
    StatusUpdate,
)
from parley.phones import mask_phone, normalize_email, normalize_phone
from parley.sms import SegmentInfo, count_segments
from parley.starter import StarterConfig
from parley.sync import ContactSync, SyncProgress
from parley.webhooks import Headers, WebhookRequest, WebhookResponse, WebhookRoute

__version__ = "0.1.0"

__all__ = [
    "AGENT_REPLY_KIND",
    "ActionHandler",
    "AddressKind",
    "Channel",
    "ChannelAddress",
    "ConfigError",
    "ConfigProblem",
    "ConsentAction",
    "ConsentRecord",
    "ConsentSource",
    "Contact",
    "ContactRecord",
    "ContactSync",
    "DeliveryError",
    "DeliveryReceipt",
    "DeliveryStatus",
    "FatalSyncError",
    "Headers",
    "InboundBatch",
    "InboundMessage",
    "IncomingCall",
    "KindRegistry",
    "OrderStatus",
    "OrderStatusEvent",
    "OutboundMessage",
    "ParleyError",
    "PluginContext",
    "PluginError",
    "Poller",
    "Purpose",
    "RetriableSyncError",
    "SendBlocked",
    "SegmentInfo",
    "SendResult",
    "SignatureError",
    "SkippableSyncError",
    "StarterConfig",
    "StatusUpdate",
    "SyncError",
    "SyncProgress",
    "Throughput",
    "WebhookRejected",
    "WebhookRequest",
    "WebhookResponse",
    "WebhookRoute",
    "__version__",
    "count_segments",
    "hookimpl",
    "mask_phone",
    "normalize_email",
    "normalize_phone",
]

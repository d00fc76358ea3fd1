"""The webhook route HubSpot's contact subscriptions call: ``POST /webhooks/hubspot``.

HubSpot sends a JSON array of up to 100 events per request. The handler
checks the v3 signature over the raw body first, then re-reads every
created or changed contact with batch reads (events carry only the one
property that changed) and stores the current records locally. Events
arrive out of order and more than once; re-reading makes both harmless.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from parley import (
    PluginContext,
    RetriableSyncError,
    WebhookRejected,
    WebhookRequest,
    WebhookResponse,
)
from parley_hubspot.connector import HubSpotConnector
from parley_hubspot.const import (
    DELETION_SUBSCRIPTIONS,
    PLUGIN_ID,
    REFETCH_SUBSCRIPTIONS,
)
from parley_hubspot.settings import HubSpotSettings, hubspot_settings
from parley_hubspot.signature import url_variants, verify_v3

logger = logging.getLogger(__name__)

WEBHOOK_PATH = f"/webhooks/{PLUGIN_ID}"


class HubSpotWebhookHandler:
    """Verifies contact events from HubSpot and stores the changed contacts."""

    def __init__(
        self,
        context: PluginContext,
        connector: Callable[[], HubSpotConnector],
    ) -> None:
        """Create the handler.

        Args:
            context: the running instance.
            connector: returns the instance's connector; called per request
                so that the client is built only when a delivery arrives.
        """
        self.context = context
        self.settings: HubSpotSettings = hubspot_settings(context)
        self._connector = connector
        self._warned_url = False

    def __call__(self, request: WebhookRequest) -> WebhookResponse:
        """Handle one delivery.

        Raises:
            SignatureError: the signature or timestamp is missing or wrong.
            WebhookRejected: the body is not a JSON array of events (400).
        """
        self._verify(request)
        events = _parse_events(request.body)

        ids, deleted = self._contact_ids(events)
        for contact_id in deleted:
            forgotten = self.context.forget_contact(PLUGIN_ID, contact_id)
            logger.info(
                "HubSpot deleted contact %s; %s",
                contact_id,
                "its HubSpot values were removed from the local contact"
                if forgotten
                else "no local copy was stored",
            )
        if not ids:
            return WebhookResponse(200, {"status": "accepted", "contacts": 0})

        try:
            stored = self._store(ids)
        except RetriableSyncError as err:
            logger.warning(
                "HubSpot webhook: re-reading %d contacts failed (%s); responding "
                "with 503 so that HubSpot delivers the events again",
                len(ids),
                err,
            )
            return WebhookResponse(503, {"status": "retry later"})
        return WebhookResponse(200, {"status": "accepted", "contacts": stored})

    def _verify(self, request: WebhookRequest) -> None:
        secret = self.settings.client_secret
        if secret is None:
            raise WebhookRejected(404, "HubSpot webhooks are not configured")
        verify_v3(
            request.headers,
            request.method,
            url_variants(self._signed_url(request)),
            request.body,
            secret.get_secret_value(),
            self.context.clock(),
        )

    def _signed_url(self, request: WebhookRequest) -> str:
        """Return the URL HubSpot called, which its signature covers."""
        if self.settings.webhook_url:
            return self.settings.webhook_url

        query = urlsplit(request.url).query
        suffix = f"?{query}" if query else ""
        public_url = self.context.settings.server.public_url
        if public_url:
            path = request.path if request.path not in ("", "/") else ""
            return f"{public_url.rstrip('/')}{WEBHOOK_PATH}{path}{suffix}"

        if not self._warned_url:
            self._warned_url = True
            logger.warning(
                "neither hubspot.webhook_url nor server.public_url is set, so "
                "HubSpot signatures are checked against %s, the URL the daemon "
                "saw; behind a proxy set one of them",
                request.url,
            )
        return request.url

    def _contact_ids(
        self, events: Sequence[Mapping[str, Any]]
    ) -> tuple[list[str], list[str]]:
        refetch: list[str] = []
        deleted: list[str] = []
        for event in events:
            portal = event.get("portalId")
            if (
                self.settings.portal_id is not None
                and portal != self.settings.portal_id
            ):
                logger.info(
                    "HubSpot event %s is for portal %s, not %s; ignored",
                    event.get("eventId"),
                    portal,
                    self.settings.portal_id,
                )
                continue

            kind = event.get("subscriptionType")
            object_ids = _object_ids(event)
            if kind in DELETION_SUBSCRIPTIONS:
                deleted.extend(object_ids)
            elif kind in REFETCH_SUBSCRIPTIONS:
                refetch.extend(object_ids)
            else:
                logger.debug("HubSpot event type %s is not handled", kind)
        deleted_ids = set(deleted)
        kept = [contact_id for contact_id in refetch if contact_id not in deleted_ids]
        return list(dict.fromkeys(kept)), deleted

    def _store(self, ids: Sequence[str]) -> int:
        stored = 0
        for record in self._connector().fetch(ids):
            if not record.addresses:
                continue
            self.context.sync_contact(record)
            stored += 1
        logger.info(
            "HubSpot webhook: stored %d of %d changed contacts", stored, len(ids)
        )
        return stored


def _parse_events(body: bytes) -> list[Mapping[str, Any]]:
    try:
        data = json.loads(body)
    except ValueError as err:
        raise WebhookRejected(400, "the body is not JSON") from err
    if not isinstance(data, list):
        raise WebhookRejected(400, "expected a JSON array of events")
    return [event for event in data if isinstance(event, Mapping)]


def _object_ids(event: Mapping[str, Any]) -> list[str]:
    """Return the contact ids an event names: its object and a merge's survivor."""
    ids = []
    for key in ("objectId", "primaryObjectId", "newObjectId"):
        value = event.get(key)
        if isinstance(value, int | str) and not isinstance(value, bool) and str(value):
            ids.append(str(value))
    return list(dict.fromkeys(ids))

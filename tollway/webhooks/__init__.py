"""Webhook sending: where a webhook may be sent (`targets`) and one signed delivery attempt
(`sender`). What to send, and when, lives in the store and the delivery workflow."""

from tollway.webhooks.sender import Attempt, WebhookSender, sign
from tollway.webhooks.targets import Target, check_url, resolve

__all__ = ["Attempt", "Target", "WebhookSender", "check_url", "resolve", "sign"]

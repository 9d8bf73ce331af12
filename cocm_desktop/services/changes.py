"""Typed change events for the layers above: the type lives in domain.changes (the store builds
the server's NOTIFY payloads from it too); this module keeps the name services and the GUI use."""

from cocm_desktop.domain.changes import CHANNEL, Change, ChangeEvent, event

__all__ = ["CHANNEL", "Change", "ChangeEvent", "event"]

"""CoCM Desktop: offline psychiatric collaborative care management for primary-care clinics."""

__version__ = "0.1.0"
APP_NAME = "CoCM Desktop"
APP_ID = "cocm-desktop"

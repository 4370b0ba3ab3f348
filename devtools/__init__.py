"""Development-only composition: the demo runner and the peer commands (never shipped).

The production image copies the product apps only; connector/settings.py installs this
app when it is importable, so `manage.py qbwc_simulate` / `procore_emulator` work in a
checkout and do not exist in the image.
"""

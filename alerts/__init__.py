"""Alerts: tell a tenant's accountants and the support staff when its sync needs a person.

Composition level: reads QBWC sessions, the Procore connection state and the audit
trail, so it imports tenants, audit, qbwc and procore_sync; nothing below imports it.
"""

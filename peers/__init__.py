"""Test doubles for the systems the product talks to: never shipped, never imported by the product.

- qbwc_simulator/: the QuickBooks Web Connector and a fake QuickBooks company (SOAP over real HTTP).
- procore_emulator/: a local Procore (OAuth + REST over real HTTP).

Tests, the bench and the demo (devtools/) use them; nothing here imports connector, tenants,
audit, qbwc or procore_sync, so the production image can leave the whole folder out.
"""

"""A faithful QuickBooks Web Connector and a fake QuickBooks company, for tests and demos.

- dataset.py: a company's vendors and bills (and the edits/deletions between runs), as JSON.
- company.py: FakeCompany answers qbXML requests from a dataset the way QuickBooks does
  (filters, MaxReturned, iterators, statusCode 1, schema element order) and injects faults.
- client.py: WebConnector speaks SOAP over real HTTP in QBWC's call order and reacts to
  every answer as QBWC does.
"""

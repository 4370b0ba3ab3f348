from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from connector.allocator import keep_one_arena, pin_malloc_thresholds

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connector.settings")
# Before the first request: a page's answer buffer is then returned to the OS when freed.
pin_malloc_thresholds()
# Before any read-ahead thread: it then allocates from the main arena (connector/allocator.py).
keep_one_arena()

_django = get_wsgi_application()  # django.setup(): the apps are loaded before the route imports a view

from connector.soap_route import SoapRoute  # noqa: E402

# The SOAP endpoint's POSTs skip the browser middleware (connector/soap_route.py says why).
application = SoapRoute(_django)

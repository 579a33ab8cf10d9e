"""Services: what a route or a timer asks for — one class per concern, collaborators passed in constructors.

- :mod:`~functions.services.vms`: VM reads, and create / delete / power jobs;
- :mod:`~functions.services.hosts`: hosts and their libraries (images, networks);
- :mod:`~functions.services.inventory`: the inventory summary and refresh jobs (API and schedule);
- :mod:`~functions.services.jobs`: job reads with live progress, cancellation;
- :mod:`~functions.services.audit`: who called, and the audit trail every write leaves.

Services raise :mod:`functions.errors` domain errors; the API maps them to problem responses through the one
table there. The composition root (``functions/app.py``) builds them.
"""

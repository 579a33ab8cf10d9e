"""The app's events: CloudEvents 1.0 about jobs, VMs and hosts, delivered at least once to webhooks and Event Grid.

- :mod:`~functions.events.catalog`: the event types (one prefix) and how each event is built from the domain;
- :mod:`~functions.events.outbox`: the outbox and dead-letter tables (an event is stored before it is delivered);
- :mod:`~functions.events.sinks`: Standard Webhooks receivers and an Event Grid custom topic;
- :mod:`~functions.events.delivery`: one delivery pass (due events, every sink still owed, backoff, dead-lettering);
- :mod:`~functions.events.emitters`: the hooks on the job store, the inventory and the leases that emit them.

Delivery runs in the ``events_pump`` orchestration (:mod:`functions.workflows.events`), never in a job's own path.
"""

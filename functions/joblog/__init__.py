"""A job's log: what happened, in order, with timestamps and the host; bounded, and never a secret.

It holds the steps, retries, the host's PowerShell output, guest state changes and the cleanup.

- :mod:`~functions.joblog.entries`: one entry and the bounds every entry is held to;
- :mod:`~functions.joblog.store`: the log table (append, read a page after a token);
- :mod:`~functions.joblog.capture`: what an activity collects while it runs (the host's output lines, guest
  states, its failure), with the secrets it handled redacted;
- :mod:`~functions.joblog.writer`: the job store's observer that logs each job's steps, status and cleanup.
"""

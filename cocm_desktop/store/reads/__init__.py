"""Typed read functions: every SQL detail the services need, behind named rows with Python types.

One module per concept (`time_reads`, `billing_reads`, `registry_reads`). Each function takes a
SQLAlchemy `Connection` (the caller's unit of work: `session.connection()`) and returns named rows
(NamedTuple or dataclass) whose dates are `date`, moments `datetime`, flags `bool` and JSON
already decoded, on the encrypted file and on the PostgreSQL clinic server alike. Big reads keep
their fast path (`store.sql_portable.fetch_plain`) inside these functions.
"""

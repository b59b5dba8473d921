"""What both imports of platform feedback share: the feedback import (SOAP exports, ``feedback/``)
and the response-file import (SFTP, ``responses/``).

Modules: ``sql_files`` (the parameterised SQL loader), ``row_checks`` (column-wise value checks and
how an unsafe value is neutralised), ``event_dates`` (which event times can be true),
``holds`` (the fail-safe: people a rejected row names are held out of every list), ``rejections``
(what an apply keeps of each chunk's rejected rows: ``rejected_row``, holds, counters),
``apply_session`` (the session settings, stage tables and timed SQL around an apply), ``ledger_end``
(the ledger row of an applied file) and ``consent_map`` (the list -> consent mapping check).

The rule every import follows: a "no" (unsubscribe, bounce) is applied whenever its person can be
identified by any field; a value unsafe to store is neutralised, never a reason to drop the event;
a row that still cannot be applied but names a person the CRM knows holds that person.
"""

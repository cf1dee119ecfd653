-- Migration 0010 (postgresql, downgrade): the function 0010 added goes.
-- Applied by migrations/versions/0010_subtree_pending_in_transaction.py after it has restored the functions 0010
-- replaced, by applying 0008's and 0005's functions.postgresql.sql again (the versions those migrations installed).

DROP FUNCTION hl_subtree_pend(text);

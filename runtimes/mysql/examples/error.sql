-- The second statement is wrong on purpose: the error goes to stderr and the exit is non-zero.
SELECT 1 AS ok;
SELEC 2;
SELECT 3 AS never_reached;

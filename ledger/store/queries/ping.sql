-- A round trip that needs nothing of the schema: the log answers.
SELECT 1

-- The health check's round trip.
SELECT 1

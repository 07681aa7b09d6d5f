-- A counter bumped in every transaction that changes registrations, so that
-- rendered review queues can be reused until something changes (on every
-- engine and across processes sharing the store).
INSERT INTO settings (name, value) VALUES ('registrations_generation', '0');

-- Run once by the postgres image on an empty data volume: the notifier keeps its
-- webhooks and deliveries in a database of its own beside the vault's.
CREATE DATABASE notifier;

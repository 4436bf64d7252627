-- The integration an endpoint belongs to: its kill switch is the flag
-- integration.<integration>.enabled ('' = none; the endpoint is not switched by a flag).
ALTER TABLE endpoints ADD COLUMN integration text NOT NULL DEFAULT ''
    CHECK (integration ~ '^[a-z0-9_.-]{0,63}$');

-- Access to the HTTP API: property-management companies own communities; API keys (stored as
-- SHA-256 of a 256-bit random secret, see api/security.py) carry a role, scopes, an expiry and
-- a revocation; every change made through the API leaves an audit record.
CREATE TABLE companies (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- NULL: not yet handed to a company (only a platform admin sees it).
ALTER TABLE communities ADD COLUMN company_id text REFERENCES companies (id);
ALTER TABLE communities ADD COLUMN decommissioned_at timestamptz;
CREATE INDEX communities_company ON communities (company_id);

ALTER TABLE buildings ADD COLUMN decommissioned_at timestamptz;

-- The broker account of a device can be revoked without decommissioning the device.
ALTER TABLE devices ADD COLUMN credentials_changed_at timestamptz;
ALTER TABLE devices ADD COLUMN credentials_revoked_at timestamptz;

CREATE TABLE api_keys (
    id          text PRIMARY KEY,               -- public part of the key, safe to log
    key_hash    bytea NOT NULL UNIQUE,          -- sha256 of the whole key
    role        text NOT NULL CHECK (role IN ('admin', 'operator', 'parking_app', 'integrator')),
    company_id  text REFERENCES companies (id),
    scopes      text[] NOT NULL,
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz,
    -- Operators and integrators act for one company; an admin for none in particular.
    CHECK (role NOT IN ('operator', 'integrator') OR company_id IS NOT NULL),
    CHECK (role <> 'admin' OR company_id IS NULL)
);

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,                  -- api key id, or "cli"
    company_id  text,
    client_addr text,
    action      text NOT NULL,                  -- e.g. device.create, alarm.acknowledge
    target      text NOT NULL,                  -- e.g. device:lift-01
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_target ON audit_log (target, at DESC);
CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);

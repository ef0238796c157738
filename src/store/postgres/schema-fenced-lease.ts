/**
 * PostgreSQL schema version 7: the fenced lease (issue 17). The lease gets an epoch that grows on every takeover and
 * never goes back (a released lease keeps its row, holder NULL, so the next holder's epoch is still higher), and its
 * expiry becomes a time of the database's clock, so controllers on different machines never compare their own clocks.
 * Any lease row of version 1 is dropped: no controller ran on PostgreSQL before this version.
 */
export const PG_SCHEMA_FENCED_LEASE = `
DROP TABLE lease;
CREATE TABLE lease (
  name TEXT PRIMARY KEY,
  holder TEXT,
  epoch BIGINT NOT NULL CHECK (epoch > 0),
  acquired_at TIMESTAMPTZ NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
);
`;

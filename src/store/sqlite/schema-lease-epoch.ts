/**
 * Schema version 10: the lease's epoch, the fencing token of a controller's tenure (see LeaseRepo). A lease held
 * across the upgrade keeps epoch 0 until its next takeover; a release now keeps the row, so epochs never go back.
 */
export const SCHEMA_LEASE_EPOCH = `
ALTER TABLE lease ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
`;

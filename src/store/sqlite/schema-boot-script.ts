/**
 * Schema version 3: each launch intent keeps the boot script (EC2 user data, GCE startup script) rendered the first
 * time it was sent, so every retry, after a restart with another port or config too, sends exactly the same bytes
 * (EC2 answers a ClientToken reused with other parameters with IdempotentParameterMismatch). NULL until the first
 * send; intents written before this version render on their next send and keep that.
 */
export const SCHEMA_BOOT_SCRIPT = `
ALTER TABLE intents ADD COLUMN boot_script TEXT;
`;

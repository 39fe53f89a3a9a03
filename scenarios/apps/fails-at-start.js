// An app that fails at start: it writes a configuration error to stderr and exits with
// status 1 immediately, before listening.
// harness should conclude: the target exited before it started listening (status 1); it
// should not start the load, and should show the stderr line that says why.
'use strict';

console.error('config missing: DATABASE_URL (set it to the database connection string)');
process.exit(1);

// The unit project runs without a database: whatever the shell holds, a spec that reaches for
// PostgreSQL here finds an address where nothing listens, and fails.
process.env.DATABASE_URL =
  'postgres://unit:unit@127.0.0.1:1/no_database_in_unit_tests';
delete process.env.LOGGING_TEST_ADMIN_URL;

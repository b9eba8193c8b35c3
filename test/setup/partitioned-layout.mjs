// The jest project `partitioned` runs the specs whose subject differs between the layouts on logs
// partitioned by month (docs/partitions.md): the migrated test databases are cloned from a
// template whose logs partitionLogs() converted (test/support/database.ts).
process.env.LOGGING_TEST_LAYOUT = 'partitioned';

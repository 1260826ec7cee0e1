-- Drop index "usagerecord_account_id_key" from table: "usage_records"
DROP INDEX "usagerecord_account_id_key";
-- Create index "usagerecord_key_account_id" to table: "usage_records"
CREATE UNIQUE INDEX "usagerecord_key_account_id" ON "usage_records" ("key", "account_id");

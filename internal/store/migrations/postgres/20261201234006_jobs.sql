-- Drop index "billrunbatch_state_bill_run_id" from table: "bill_run_batches"
DROP INDEX "billrunbatch_state_bill_run_id";
-- Modify "bill_run_batches" table
ALTER TABLE "bill_run_batches" DROP COLUMN "claimed_by", DROP COLUMN "lease_until", DROP COLUMN "attempts";

-- Modify "account_packages" table
ALTER TABLE "account_packages" ADD COLUMN "usage_next" date NULL, ADD COLUMN "usage_due" date NULL, ADD COLUMN "usage_late_from" date NULL, ADD COLUMN "activated_on" date NULL;
-- Modify "bill_run_errors" table
ALTER TABLE "bill_run_errors" ADD COLUMN "code" character varying NULL;
-- Modify "bill_runs" table
ALTER TABLE "bill_runs" ADD COLUMN "bill_usage" boolean NOT NULL DEFAULT true;
-- Modify "charges" table
ALTER TABLE "charges" ADD COLUMN "used_quantity" numeric NULL, ADD COLUMN "billed_quantity" numeric NULL, ADD COLUMN "rate_plan_id" bigint NULL;

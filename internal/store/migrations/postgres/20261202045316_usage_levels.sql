-- Modify "account_packages" table
ALTER TABLE "account_packages" ADD COLUMN "usage_bill_day" bigint NULL, ADD COLUMN "rate_plan_id" bigint NULL, ADD CONSTRAINT "account_packages_rate_plans_rate_plan" FOREIGN KEY ("rate_plan_id") REFERENCES "rate_plans" ("id") ON UPDATE NO ACTION ON DELETE SET NULL;
-- Modify "account_services" table
ALTER TABLE "account_services" ADD COLUMN "rate_plan_id" bigint NULL, ADD CONSTRAINT "account_services_rate_plans_rate_plan" FOREIGN KEY ("rate_plan_id") REFERENCES "rate_plans" ("id") ON UPDATE NO ACTION ON DELETE SET NULL;
-- Modify "accounts" table
ALTER TABLE "accounts" ADD COLUMN "usage_bill_day" bigint NULL, ADD COLUMN "rate_plan_id" bigint NULL, ADD CONSTRAINT "accounts_rate_plans_rate_plan" FOREIGN KEY ("rate_plan_id") REFERENCES "rate_plans" ("id") ON UPDATE NO ACTION ON DELETE SET NULL;

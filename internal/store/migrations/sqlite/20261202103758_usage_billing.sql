-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_bill_runs" table
CREATE TABLE `new_bill_runs` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `status` text NOT NULL DEFAULT ('QUEUED'), `period_start` text NOT NULL, `period_end` text NOT NULL, `posting_date` text NOT NULL, `account_ids` json NULL, `bill_charges` bool NOT NULL DEFAULT (true), `close_invoices` bool NOT NULL DEFAULT (false), `bill_usage` bool NOT NULL DEFAULT (true), `accounts_total` integer NOT NULL DEFAULT (0), `accounts_processed` integer NOT NULL DEFAULT (0), `accounts_failed` integer NOT NULL DEFAULT (0), `invoices_created` integer NOT NULL DEFAULT (0), `charges_created` integer NOT NULL DEFAULT (0), `totals` json NULL, `cancel_requested` bool NOT NULL DEFAULT (false), `created_at` datetime NOT NULL, `started_at` datetime NULL, `finished_at` datetime NULL);
-- Set sequence for "new_bill_runs" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_bill_runs", 12884901888);
-- Copy rows from old table "bill_runs" to new temporary table "new_bill_runs"
INSERT INTO `new_bill_runs` (`id`, `status`, `period_start`, `period_end`, `posting_date`, `account_ids`, `bill_charges`, `close_invoices`, `accounts_total`, `accounts_processed`, `accounts_failed`, `invoices_created`, `charges_created`, `totals`, `cancel_requested`, `created_at`, `started_at`, `finished_at`) SELECT `id`, `status`, `period_start`, `period_end`, `posting_date`, `account_ids`, `bill_charges`, `close_invoices`, `accounts_total`, `accounts_processed`, `accounts_failed`, `invoices_created`, `charges_created`, `totals`, `cancel_requested`, `created_at`, `started_at`, `finished_at` FROM `bill_runs`;
-- Drop "bill_runs" table after copying rows
DROP TABLE `bill_runs`;
-- Rename temporary table "new_bill_runs" to "bill_runs"
ALTER TABLE `new_bill_runs` RENAME TO `bill_runs`;
-- Add column "code" to table: "bill_run_errors"
ALTER TABLE `bill_run_errors` ADD COLUMN `code` text NULL;
-- Add column "used_quantity" to table: "charges"
ALTER TABLE `charges` ADD COLUMN `used_quantity` text NULL;
-- Add column "billed_quantity" to table: "charges"
ALTER TABLE `charges` ADD COLUMN `billed_quantity` text NULL;
-- Add column "rate_plan_id" to table: "charges"
ALTER TABLE `charges` ADD COLUMN `rate_plan_id` integer NULL;
-- Add column "usage_next" to table: "account_packages"
ALTER TABLE `account_packages` ADD COLUMN `usage_next` text NULL;
-- Add column "usage_due" to table: "account_packages"
ALTER TABLE `account_packages` ADD COLUMN `usage_due` text NULL;
-- Add column "usage_late_from" to table: "account_packages"
ALTER TABLE `account_packages` ADD COLUMN `usage_late_from` text NULL;
-- Add column "activated_on" to table: "account_packages"
ALTER TABLE `account_packages` ADD COLUMN `activated_on` text NULL;
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_bill_run_batches" table
CREATE TABLE `new_bill_run_batches` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `seq` integer NOT NULL, `first_account_id` integer NOT NULL, `last_account_id` integer NOT NULL, `account_ids` json NULL, `accounts` integer NOT NULL, `state` text NOT NULL DEFAULT ('PENDING'), `failed` integer NOT NULL DEFAULT (0), `invoices` integer NOT NULL DEFAULT (0), `charges` integer NOT NULL DEFAULT (0), `totals` json NULL, `bill_run_id` integer NOT NULL, CONSTRAINT `bill_run_batches_bill_runs_batches` FOREIGN KEY (`bill_run_id`) REFERENCES `bill_runs` (`id`) ON DELETE NO ACTION);
-- Set sequence for "new_bill_run_batches" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_bill_run_batches", 77309411328);
-- Copy rows from old table "bill_run_batches" to new temporary table "new_bill_run_batches"
INSERT INTO `new_bill_run_batches` (`id`, `seq`, `first_account_id`, `last_account_id`, `account_ids`, `accounts`, `state`, `failed`, `invoices`, `charges`, `totals`, `bill_run_id`) SELECT `id`, `seq`, `first_account_id`, `last_account_id`, `account_ids`, `accounts`, `state`, `failed`, `invoices`, `charges`, `totals`, `bill_run_id` FROM `bill_run_batches`;
-- Drop "bill_run_batches" table after copying rows
DROP TABLE `bill_run_batches`;
-- Rename temporary table "new_bill_run_batches" to "bill_run_batches"
ALTER TABLE `new_bill_run_batches` RENAME TO `bill_run_batches`;
-- Create index "billrunbatch_bill_run_id_seq" to table: "bill_run_batches"
CREATE UNIQUE INDEX `billrunbatch_bill_run_id_seq` ON `bill_run_batches` (`bill_run_id`, `seq`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

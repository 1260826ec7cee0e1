-- Create index "billrunerror_bill_run_id_account_id" to table: "bill_run_errors"
CREATE UNIQUE INDEX `billrunerror_bill_run_id_account_id` ON `bill_run_errors` (`bill_run_id`, `account_id`);
-- Create "bill_run_batches" table
CREATE TABLE `bill_run_batches` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `seq` integer NOT NULL, `first_account_id` integer NOT NULL, `last_account_id` integer NOT NULL, `account_ids` json NULL, `accounts` integer NOT NULL, `state` text NOT NULL DEFAULT ('PENDING'), `claimed_by` text NULL, `lease_until` datetime NULL, `attempts` integer NOT NULL DEFAULT (0), `failed` integer NOT NULL DEFAULT (0), `invoices` integer NOT NULL DEFAULT (0), `charges` integer NOT NULL DEFAULT (0), `totals` json NULL, `bill_run_id` integer NOT NULL, CONSTRAINT `bill_run_batches_bill_runs_batches` FOREIGN KEY (`bill_run_id`) REFERENCES `bill_runs` (`id`) ON DELETE NO ACTION);
-- Set sequence for "bill_run_batches" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("bill_run_batches", 77309411328);
-- Create index "billrunbatch_bill_run_id_seq" to table: "bill_run_batches"
CREATE UNIQUE INDEX `billrunbatch_bill_run_id_seq` ON `bill_run_batches` (`bill_run_id`, `seq`);
-- Create index "billrunbatch_state_bill_run_id" to table: "bill_run_batches"
CREATE INDEX `billrunbatch_state_bill_run_id` ON `bill_run_batches` (`state`, `bill_run_id`);

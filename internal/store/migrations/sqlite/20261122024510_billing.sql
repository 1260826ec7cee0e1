-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Add column "last_period_start" to table: "account_packages"
ALTER TABLE `account_packages` ADD COLUMN `last_period_start` text NULL;
-- Create "new_account_services" table
CREATE TABLE `new_account_services` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `quantity` integer NOT NULL, `effective_date` text NOT NULL, `end_date` text NULL, `one_time_billed` bool NOT NULL DEFAULT (false), `account_package_id` integer NOT NULL, `service_id` integer NOT NULL, `status_id` integer NOT NULL, CONSTRAINT `account_services_account_packages_services` FOREIGN KEY (`account_package_id`) REFERENCES `account_packages` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_services_services_service` FOREIGN KEY (`service_id`) REFERENCES `services` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_services_statuses_status` FOREIGN KEY (`status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION);
-- Set sequence for "new_account_services" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_account_services", 8589934592);
-- Copy rows from old table "account_services" to new temporary table "new_account_services"
INSERT INTO `new_account_services` (`id`, `quantity`, `effective_date`, `end_date`, `account_package_id`, `service_id`, `status_id`) SELECT `id`, `quantity`, `effective_date`, `end_date`, `account_package_id`, `service_id`, `status_id` FROM `account_services`;
-- Drop "account_services" table after copying rows
DROP TABLE `account_services`;
-- Rename temporary table "new_account_services" to "account_services"
ALTER TABLE `new_account_services` RENAME TO `account_services`;
-- Create index "charge_account_package_id" to table: "charges"
CREATE INDEX `charge_account_package_id` ON `charges` (`account_package_id`);
-- Create index "charge_invoice_id" to table: "charges"
CREATE INDEX `charge_invoice_id` ON `charges` (`invoice_id`);
-- Create index "charge_account_service_id_kind_period_start" to table: "charges"
CREATE INDEX `charge_account_service_id_kind_period_start` ON `charges` (`account_service_id`, `kind`, `period_start`);
-- Create index "invoice_account_id" to table: "invoices"
CREATE INDEX `invoice_account_id` ON `invoices` (`account_id`);
-- Create index "invoice_bill_run_id" to table: "invoices"
CREATE INDEX `invoice_bill_run_id` ON `invoices` (`bill_run_id`);
-- Create "counters" table
CREATE TABLE `counters` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `value` integer NOT NULL DEFAULT (0));
-- Set sequence for "counters" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("counters", 68719476736);
-- Create index "counters_name_key" to table: "counters"
CREATE UNIQUE INDEX `counters_name_key` ON `counters` (`name`);
-- Create "status_changes" table
CREATE TABLE `status_changes` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `account_id` integer NOT NULL, `changed_on` text NOT NULL, `charged` bool NOT NULL DEFAULT (false), `account_service_id` integer NOT NULL, `from_status_id` integer NOT NULL, `to_status_id` integer NOT NULL, CONSTRAINT `status_changes_account_services_status_changes` FOREIGN KEY (`account_service_id`) REFERENCES `account_services` (`id`) ON DELETE NO ACTION, CONSTRAINT `status_changes_statuses_from` FOREIGN KEY (`from_status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION, CONSTRAINT `status_changes_statuses_to` FOREIGN KEY (`to_status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION);
-- Set sequence for "status_changes" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("status_changes", 73014444032);
-- Create index "statuschange_account_id_charged" to table: "status_changes"
CREATE INDEX `statuschange_account_id_charged` ON `status_changes` (`account_id`, `charged`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

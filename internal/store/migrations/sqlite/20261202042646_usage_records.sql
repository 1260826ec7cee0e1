-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_account_services" table
CREATE TABLE `new_account_services` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `quantity` integer NOT NULL, `effective_date` text NOT NULL, `end_date` text NULL, `one_time_billed` bool NOT NULL DEFAULT (false), `usage_identifier` text NULL, `account_package_id` integer NOT NULL, `service_id` integer NOT NULL, `status_id` integer NOT NULL, CONSTRAINT `account_services_account_packages_services` FOREIGN KEY (`account_package_id`) REFERENCES `account_packages` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_services_services_service` FOREIGN KEY (`service_id`) REFERENCES `services` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_services_statuses_status` FOREIGN KEY (`status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION);
-- Set sequence for "new_account_services" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_account_services", 8589934592);
-- Copy rows from old table "account_services" to new temporary table "new_account_services"
INSERT INTO `new_account_services` (`id`, `quantity`, `effective_date`, `end_date`, `one_time_billed`, `account_package_id`, `service_id`, `status_id`) SELECT `id`, `quantity`, `effective_date`, `end_date`, `one_time_billed`, `account_package_id`, `service_id`, `status_id` FROM `account_services`;
-- Drop "account_services" table after copying rows
DROP TABLE `account_services`;
-- Rename temporary table "new_account_services" to "account_services"
ALTER TABLE `new_account_services` RENAME TO `account_services`;
-- Create index "accountservice_account_package_id" to table: "account_services"
CREATE INDEX `accountservice_account_package_id` ON `account_services` (`account_package_id`);
-- Create index "accountservice_usage_identifier" to table: "account_services"
CREATE INDEX `accountservice_usage_identifier` ON `account_services` (`usage_identifier`);
-- Create "usage_days" table
CREATE TABLE `usage_days` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `day` text NOT NULL, `quantity` text NOT NULL, `records` integer NOT NULL, `account_id` integer NOT NULL, `account_service_id` integer NOT NULL, CONSTRAINT `usage_days_accounts_account` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `usage_days_account_services_account_service` FOREIGN KEY (`account_service_id`) REFERENCES `account_services` (`id`) ON DELETE NO ACTION);
-- Set sequence for "usage_days" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("usage_days", 98784247808);
-- Create index "usageday_account_service_id_day" to table: "usage_days"
CREATE UNIQUE INDEX `usageday_account_service_id_day` ON `usage_days` (`account_service_id`, `day`);
-- Create "usage_records" table
CREATE TABLE `usage_records` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `key` text NOT NULL, `quantity` text NOT NULL, `date` text NOT NULL, `created_at` datetime NOT NULL, `account_id` integer NOT NULL, `account_service_id` integer NOT NULL, CONSTRAINT `usage_records_accounts_account` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `usage_records_account_services_account_service` FOREIGN KEY (`account_service_id`) REFERENCES `account_services` (`id`) ON DELETE NO ACTION);
-- Set sequence for "usage_records" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("usage_records", 103079215104);
-- Create index "usagerecord_account_id_key" to table: "usage_records"
CREATE UNIQUE INDEX `usagerecord_account_id_key` ON `usage_records` (`account_id`, `key`);
-- Create index "usagerecord_account_service_id_date" to table: "usage_records"
CREATE INDEX `usagerecord_account_service_id_date` ON `usage_records` (`account_service_id`, `date`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_account_packages" table
CREATE TABLE `new_account_packages` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `bulk_quantity` integer NOT NULL DEFAULT (1), `effective_date` text NOT NULL, `end_date` text NULL, `cancellation_date` text NULL, `cancel_billing_option` text NULL, `own_bill_day` integer NULL, `new_bill_day` integer NULL, `usage_bill_day` integer NULL, `next_bill_date` text NULL, `billed_through` text NULL, `last_period_start` text NULL, `charge_full_period` bool NOT NULL, `postpaid` bool NOT NULL, `account_id` integer NOT NULL, `frequency_id` integer NOT NULL, `rate_plan_id` integer NULL, `status_id` integer NOT NULL, `package_id` integer NOT NULL, CONSTRAINT `account_packages_accounts_account_packages` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_packages_package_frequencies_frequency` FOREIGN KEY (`frequency_id`) REFERENCES `package_frequencies` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_packages_rate_plans_rate_plan` FOREIGN KEY (`rate_plan_id`) REFERENCES `rate_plans` (`id`) ON DELETE SET NULL, CONSTRAINT `account_packages_statuses_status` FOREIGN KEY (`status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_packages_packages_account_packages` FOREIGN KEY (`package_id`) REFERENCES `packages` (`id`) ON DELETE NO ACTION);
-- Set sequence for "new_account_packages" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_account_packages", 4294967296);
-- Copy rows from old table "account_packages" to new temporary table "new_account_packages"
INSERT INTO `new_account_packages` (`id`, `bulk_quantity`, `effective_date`, `end_date`, `cancellation_date`, `cancel_billing_option`, `own_bill_day`, `new_bill_day`, `next_bill_date`, `billed_through`, `last_period_start`, `charge_full_period`, `postpaid`, `account_id`, `frequency_id`, `status_id`, `package_id`) SELECT `id`, `bulk_quantity`, `effective_date`, `end_date`, `cancellation_date`, `cancel_billing_option`, `own_bill_day`, `new_bill_day`, `next_bill_date`, `billed_through`, `last_period_start`, `charge_full_period`, `postpaid`, `account_id`, `frequency_id`, `status_id`, `package_id` FROM `account_packages`;
-- Drop "account_packages" table after copying rows
DROP TABLE `account_packages`;
-- Rename temporary table "new_account_packages" to "account_packages"
ALTER TABLE `new_account_packages` RENAME TO `account_packages`;
-- Create index "accountpackage_account_id_next_bill_date" to table: "account_packages"
CREATE INDEX `accountpackage_account_id_next_bill_date` ON `account_packages` (`account_id`, `next_bill_date`);
-- Create index "accountpackage_account_id_id" to table: "account_packages"
CREATE INDEX `accountpackage_account_id_id` ON `account_packages` (`account_id`, `id`);
-- Create index "accountpackage_package_id" to table: "account_packages"
CREATE INDEX `accountpackage_package_id` ON `account_packages` (`package_id`);
-- Create "new_accounts" table
CREATE TABLE `new_accounts` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `bill_day` integer NOT NULL, `usage_bill_day` integer NULL, `currency_id` integer NOT NULL, `rate_plan_id` integer NULL, `partner_id` integer NULL, CONSTRAINT `accounts_currencies_currency` FOREIGN KEY (`currency_id`) REFERENCES `currencies` (`id`) ON DELETE NO ACTION, CONSTRAINT `accounts_rate_plans_rate_plan` FOREIGN KEY (`rate_plan_id`) REFERENCES `rate_plans` (`id`) ON DELETE SET NULL, CONSTRAINT `accounts_partners_accounts` FOREIGN KEY (`partner_id`) REFERENCES `partners` (`id`) ON DELETE SET NULL);
-- Copy rows from old table "accounts" to new temporary table "new_accounts"
INSERT INTO `new_accounts` (`id`, `name`, `bill_day`, `currency_id`, `partner_id`) SELECT `id`, `name`, `bill_day`, `currency_id`, `partner_id` FROM `accounts`;
-- Drop "accounts" table after copying rows
DROP TABLE `accounts`;
-- Rename temporary table "new_accounts" to "accounts"
ALTER TABLE `new_accounts` RENAME TO `accounts`;
-- Create index "account_partner_id_id" to table: "accounts"
CREATE INDEX `account_partner_id_id` ON `accounts` (`partner_id`, `id`);
-- Create "new_account_services" table
CREATE TABLE `new_account_services` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `quantity` integer NOT NULL, `effective_date` text NOT NULL, `end_date` text NULL, `one_time_billed` bool NOT NULL DEFAULT (false), `usage_identifier` text NULL, `account_package_id` integer NOT NULL, `service_id` integer NOT NULL, `status_id` integer NOT NULL, `rate_plan_id` integer NULL, CONSTRAINT `account_services_account_packages_services` FOREIGN KEY (`account_package_id`) REFERENCES `account_packages` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_services_services_service` FOREIGN KEY (`service_id`) REFERENCES `services` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_services_statuses_status` FOREIGN KEY (`status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_services_rate_plans_rate_plan` FOREIGN KEY (`rate_plan_id`) REFERENCES `rate_plans` (`id`) ON DELETE SET NULL);
-- Set sequence for "new_account_services" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_account_services", 8589934592);
-- Copy rows from old table "account_services" to new temporary table "new_account_services"
INSERT INTO `new_account_services` (`id`, `quantity`, `effective_date`, `end_date`, `one_time_billed`, `usage_identifier`, `account_package_id`, `service_id`, `status_id`) SELECT `id`, `quantity`, `effective_date`, `end_date`, `one_time_billed`, `usage_identifier`, `account_package_id`, `service_id`, `status_id` FROM `account_services`;
-- Drop "account_services" table after copying rows
DROP TABLE `account_services`;
-- Rename temporary table "new_account_services" to "account_services"
ALTER TABLE `new_account_services` RENAME TO `account_services`;
-- Create index "accountservice_account_package_id" to table: "account_services"
CREATE INDEX `accountservice_account_package_id` ON `account_services` (`account_package_id`);
-- Create index "accountservice_usage_identifier" to table: "account_services"
CREATE INDEX `accountservice_usage_identifier` ON `account_services` (`usage_identifier`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

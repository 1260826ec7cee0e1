-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Add column "price_source" to table: "charges"
ALTER TABLE `charges` ADD COLUMN `price_source` text NULL;
-- Add column "counting_rule" to table: "service_prices"
ALTER TABLE `service_prices` ADD COLUMN `counting_rule` json NULL;
-- Create "new_account_packages" table
CREATE TABLE `new_account_packages` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `bulk_quantity` integer NOT NULL DEFAULT (1), `effective_date` text NOT NULL, `end_date` text NULL, `cancellation_date` text NULL, `cancel_billing_option` text NULL, `own_bill_day` integer NULL, `new_bill_day` integer NULL, `usage_bill_day` integer NULL, `product_code` text NULL, `waive_termination_fee` bool NOT NULL DEFAULT (false), `next_bill_date` text NULL, `billed_through` text NULL, `last_period_start` text NULL, `usage_next` text NULL, `usage_due` text NULL, `usage_late_from` text NULL, `activated_on` text NULL, `charge_full_period` bool NOT NULL, `postpaid` bool NOT NULL, `account_id` integer NOT NULL, `frequency_id` integer NOT NULL, `rate_plan_id` integer NULL, `status_id` integer NOT NULL, `package_id` integer NOT NULL, CONSTRAINT `account_packages_accounts_account_packages` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_packages_package_frequencies_frequency` FOREIGN KEY (`frequency_id`) REFERENCES `package_frequencies` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_packages_rate_plans_rate_plan` FOREIGN KEY (`rate_plan_id`) REFERENCES `rate_plans` (`id`) ON DELETE SET NULL, CONSTRAINT `account_packages_statuses_status` FOREIGN KEY (`status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_packages_packages_account_packages` FOREIGN KEY (`package_id`) REFERENCES `packages` (`id`) ON DELETE NO ACTION);
-- Set sequence for "new_account_packages" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_account_packages", 4294967296);
-- Copy rows from old table "account_packages" to new temporary table "new_account_packages"
INSERT INTO `new_account_packages` (`id`, `bulk_quantity`, `effective_date`, `end_date`, `cancellation_date`, `cancel_billing_option`, `own_bill_day`, `new_bill_day`, `usage_bill_day`, `next_bill_date`, `billed_through`, `last_period_start`, `usage_next`, `usage_due`, `usage_late_from`, `activated_on`, `charge_full_period`, `postpaid`, `account_id`, `frequency_id`, `rate_plan_id`, `status_id`, `package_id`) SELECT `id`, `bulk_quantity`, `effective_date`, `end_date`, `cancellation_date`, `cancel_billing_option`, `own_bill_day`, `new_bill_day`, `usage_bill_day`, `next_bill_date`, `billed_through`, `last_period_start`, `usage_next`, `usage_due`, `usage_late_from`, `activated_on`, `charge_full_period`, `postpaid`, `account_id`, `frequency_id`, `rate_plan_id`, `status_id`, `package_id` FROM `account_packages`;
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
CREATE TABLE `new_accounts` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `bill_day` integer NOT NULL, `usage_bill_day` integer NULL, `currency_id` integer NOT NULL, `rate_plan_id` integer NULL, `price_book_id` integer NULL, `partner_id` integer NULL, CONSTRAINT `accounts_currencies_currency` FOREIGN KEY (`currency_id`) REFERENCES `currencies` (`id`) ON DELETE NO ACTION, CONSTRAINT `accounts_rate_plans_rate_plan` FOREIGN KEY (`rate_plan_id`) REFERENCES `rate_plans` (`id`) ON DELETE SET NULL, CONSTRAINT `accounts_price_books_price_book` FOREIGN KEY (`price_book_id`) REFERENCES `price_books` (`id`) ON DELETE SET NULL, CONSTRAINT `accounts_partners_accounts` FOREIGN KEY (`partner_id`) REFERENCES `partners` (`id`) ON DELETE SET NULL);
-- Copy rows from old table "accounts" to new temporary table "new_accounts"
INSERT INTO `new_accounts` (`id`, `name`, `bill_day`, `usage_bill_day`, `currency_id`, `rate_plan_id`, `partner_id`) SELECT `id`, `name`, `bill_day`, `usage_bill_day`, `currency_id`, `rate_plan_id`, `partner_id` FROM `accounts`;
-- Drop "accounts" table after copying rows
DROP TABLE `accounts`;
-- Rename temporary table "new_accounts" to "accounts"
ALTER TABLE `new_accounts` RENAME TO `accounts`;
-- Create index "account_partner_id_id" to table: "accounts"
CREATE INDEX `account_partner_id_id` ON `accounts` (`partner_id`, `id`);
-- Create "new_bill_runs" table
CREATE TABLE `new_bill_runs` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `status` text NOT NULL DEFAULT ('QUEUED'), `period_start` text NOT NULL, `period_end` text NOT NULL, `posting_date` text NOT NULL, `account_ids` json NULL, `bill_charges` bool NOT NULL DEFAULT (true), `close_invoices` bool NOT NULL DEFAULT (false), `bill_usage` bool NOT NULL DEFAULT (true), `invoice_top_up` bool NOT NULL DEFAULT (false), `run_contract_commitment` bool NOT NULL DEFAULT (false), `accounts_total` integer NOT NULL DEFAULT (0), `accounts_processed` integer NOT NULL DEFAULT (0), `accounts_failed` integer NOT NULL DEFAULT (0), `invoices_created` integer NOT NULL DEFAULT (0), `charges_created` integer NOT NULL DEFAULT (0), `totals` json NULL, `cancel_requested` bool NOT NULL DEFAULT (false), `created_at` datetime NOT NULL, `started_at` datetime NULL, `finished_at` datetime NULL);
-- Set sequence for "new_bill_runs" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_bill_runs", 12884901888);
-- Copy rows from old table "bill_runs" to new temporary table "new_bill_runs"
INSERT INTO `new_bill_runs` (`id`, `status`, `period_start`, `period_end`, `posting_date`, `account_ids`, `bill_charges`, `close_invoices`, `bill_usage`, `accounts_total`, `accounts_processed`, `accounts_failed`, `invoices_created`, `charges_created`, `totals`, `cancel_requested`, `created_at`, `started_at`, `finished_at`) SELECT `id`, `status`, `period_start`, `period_end`, `posting_date`, `account_ids`, `bill_charges`, `close_invoices`, `bill_usage`, `accounts_total`, `accounts_processed`, `accounts_failed`, `invoices_created`, `charges_created`, `totals`, `cancel_requested`, `created_at`, `started_at`, `finished_at` FROM `bill_runs`;
-- Drop "bill_runs" table after copying rows
DROP TABLE `bill_runs`;
-- Rename temporary table "new_bill_runs" to "bill_runs"
ALTER TABLE `new_bill_runs` RENAME TO `bill_runs`;
-- Create "contracts" table
CREATE TABLE `contracts` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `start_date` text NOT NULL, `term_months` integer NOT NULL, `renewal` text NOT NULL, `minimum_invoice_amount` text NULL, `early_termination_fee` text NULL, `terms` integer NOT NULL DEFAULT (1), `end_date` text NOT NULL, `ended` bool NOT NULL DEFAULT (false), `top_up_next` text NOT NULL, `fee_charged` bool NOT NULL DEFAULT (false), `account_id` integer NOT NULL, `account_package_id` integer NULL, CONSTRAINT `contracts_accounts_contracts` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `contracts_account_packages_contracts` FOREIGN KEY (`account_package_id`) REFERENCES `account_packages` (`id`) ON DELETE SET NULL);
-- Set sequence for "contracts" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("contracts", 107374182400);
-- Create index "contract_account_id" to table: "contracts"
CREATE INDEX `contract_account_id` ON `contracts` (`account_id`);
-- Create index "contract_account_package_id" to table: "contracts"
CREATE INDEX `contract_account_package_id` ON `contracts` (`account_package_id`);
-- Create index "contract_ended_end_date" to table: "contracts"
CREATE INDEX `contract_ended_end_date` ON `contracts` (`ended`, `end_date`);
-- Create "discounts" table
CREATE TABLE `discounts` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `percent` text NULL, `amount` text NULL, `start_date` text NOT NULL, `end_date` text NULL, `account_service_id` integer NOT NULL, CONSTRAINT `discounts_account_services_discounts` FOREIGN KEY (`account_service_id`) REFERENCES `account_services` (`id`) ON DELETE NO ACTION);
-- Set sequence for "discounts" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("discounts", 111669149696);
-- Create "price_books" table
CREATE TABLE `price_books` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `name_key` text NOT NULL);
-- Set sequence for "price_books" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("price_books", 115964116992);
-- Create index "price_books_name_key_key" to table: "price_books"
CREATE UNIQUE INDEX `price_books_name_key_key` ON `price_books` (`name_key`);
-- Create "price_book_prices" table
CREATE TABLE `price_book_prices` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `amount` text NOT NULL, `price_book_id` integer NOT NULL, `frequency_id` integer NOT NULL, `service_id` integer NOT NULL, `currency_id` integer NOT NULL, `status_id` integer NOT NULL, CONSTRAINT `price_book_prices_price_books_prices` FOREIGN KEY (`price_book_id`) REFERENCES `price_books` (`id`) ON DELETE NO ACTION, CONSTRAINT `price_book_prices_package_frequencies_frequency` FOREIGN KEY (`frequency_id`) REFERENCES `package_frequencies` (`id`) ON DELETE NO ACTION, CONSTRAINT `price_book_prices_services_service` FOREIGN KEY (`service_id`) REFERENCES `services` (`id`) ON DELETE NO ACTION, CONSTRAINT `price_book_prices_currencies_currency` FOREIGN KEY (`currency_id`) REFERENCES `currencies` (`id`) ON DELETE NO ACTION, CONSTRAINT `price_book_prices_statuses_status` FOREIGN KEY (`status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION);
-- Set sequence for "price_book_prices" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("price_book_prices", 120259084288);
-- Create index "pricebookprice_price_book_id_fr_86f4022723b16df066692394dbabeaf6" to table: "price_book_prices"
CREATE UNIQUE INDEX `pricebookprice_price_book_id_fr_86f4022723b16df066692394dbabeaf6` ON `price_book_prices` (`price_book_id`, `frequency_id`, `service_id`, `currency_id`, `status_id`);
-- Create index "pricebookprice_frequency_id" to table: "price_book_prices"
CREATE INDEX `pricebookprice_frequency_id` ON `price_book_prices` (`frequency_id`);
-- Create "price_plans" table
CREATE TABLE `price_plans` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `code` text NOT NULL, `entries` json NOT NULL, `package_id` integer NOT NULL, CONSTRAINT `price_plans_packages_package` FOREIGN KEY (`package_id`) REFERENCES `packages` (`id`) ON DELETE NO ACTION);
-- Set sequence for "price_plans" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("price_plans", 124554051584);
-- Create index "price_plans_code_key" to table: "price_plans"
CREATE UNIQUE INDEX `price_plans_code_key` ON `price_plans` (`code`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;

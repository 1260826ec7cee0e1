-- Create "accounts" table
CREATE TABLE `accounts` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `bill_day` integer NOT NULL, `currency_id` integer NOT NULL, CONSTRAINT `accounts_currencies_currency` FOREIGN KEY (`currency_id`) REFERENCES `currencies` (`id`) ON DELETE NO ACTION);
-- Create "account_packages" table
CREATE TABLE `account_packages` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `bulk_quantity` integer NOT NULL DEFAULT (1), `effective_date` text NOT NULL, `end_date` text NULL, `cancellation_date` text NULL, `cancel_billing_option` text NULL, `own_bill_day` integer NULL, `new_bill_day` integer NULL, `next_bill_date` text NULL, `billed_through` text NULL, `charge_full_period` bool NOT NULL, `postpaid` bool NOT NULL, `account_id` integer NOT NULL, `frequency_id` integer NOT NULL, `status_id` integer NOT NULL, `package_id` integer NOT NULL, CONSTRAINT `account_packages_accounts_account_packages` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_packages_package_frequencies_frequency` FOREIGN KEY (`frequency_id`) REFERENCES `package_frequencies` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_packages_statuses_status` FOREIGN KEY (`status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_packages_packages_account_packages` FOREIGN KEY (`package_id`) REFERENCES `packages` (`id`) ON DELETE NO ACTION);
-- Set sequence for "account_packages" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("account_packages", 4294967296);
-- Create index "accountpackage_account_id_next_bill_date" to table: "account_packages"
CREATE INDEX `accountpackage_account_id_next_bill_date` ON `account_packages` (`account_id`, `next_bill_date`);
-- Create index "accountpackage_package_id" to table: "account_packages"
CREATE INDEX `accountpackage_package_id` ON `account_packages` (`package_id`);
-- Create "account_services" table
CREATE TABLE `account_services` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `quantity` integer NOT NULL, `effective_date` text NOT NULL, `end_date` text NULL, `account_package_id` integer NOT NULL, `service_id` integer NOT NULL, `status_id` integer NOT NULL, CONSTRAINT `account_services_account_packages_services` FOREIGN KEY (`account_package_id`) REFERENCES `account_packages` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_services_services_service` FOREIGN KEY (`service_id`) REFERENCES `services` (`id`) ON DELETE NO ACTION, CONSTRAINT `account_services_statuses_status` FOREIGN KEY (`status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION);
-- Set sequence for "account_services" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("account_services", 8589934592);
-- Create "bill_runs" table
CREATE TABLE `bill_runs` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `status` text NOT NULL DEFAULT ('QUEUED'), `period_start` text NOT NULL, `period_end` text NOT NULL, `posting_date` text NOT NULL, `account_ids` json NULL, `bill_charges` bool NOT NULL DEFAULT (true), `close_invoices` bool NOT NULL DEFAULT (false), `accounts_total` integer NOT NULL DEFAULT (0), `accounts_processed` integer NOT NULL DEFAULT (0), `accounts_failed` integer NOT NULL DEFAULT (0), `invoices_created` integer NOT NULL DEFAULT (0), `charges_created` integer NOT NULL DEFAULT (0), `totals` json NULL, `cancel_requested` bool NOT NULL DEFAULT (false), `created_at` datetime NOT NULL, `started_at` datetime NULL, `finished_at` datetime NULL);
-- Set sequence for "bill_runs" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("bill_runs", 12884901888);
-- Create "bill_run_errors" table
CREATE TABLE `bill_run_errors` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `message` text NOT NULL, `bill_run_id` integer NOT NULL, `account_id` integer NOT NULL, CONSTRAINT `bill_run_errors_bill_runs_errors` FOREIGN KEY (`bill_run_id`) REFERENCES `bill_runs` (`id`) ON DELETE NO ACTION, CONSTRAINT `bill_run_errors_accounts_account` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION);
-- Set sequence for "bill_run_errors" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("bill_run_errors", 17179869184);
-- Create "packages" table
CREATE TABLE `packages` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `name_key` text NOT NULL, `description` text NULL, `start_date` text NULL, `expiry_date` text NULL, `one_time_billing` bool NOT NULL DEFAULT (false), `charge_full_period` bool NOT NULL DEFAULT (false), `postpaid` bool NOT NULL DEFAULT (false), `bulk_quantity` bool NOT NULL DEFAULT (false), `default_status_id` integer NOT NULL, CONSTRAINT `packages_statuses_default_status` FOREIGN KEY (`default_status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION);
-- Set sequence for "packages" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("packages", 21474836480);
-- Create index "packages_name_key_key" to table: "packages"
CREATE UNIQUE INDEX `packages_name_key_key` ON `packages` (`name_key`);
-- Create "charges" table
CREATE TABLE `charges` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `kind` text NOT NULL, `description` text NOT NULL, `account_id` integer NOT NULL, `period_start` text NULL, `period_end` text NULL, `quantity` integer NOT NULL, `unit_amount` text NOT NULL, `amount` text NOT NULL, `guard` text NOT NULL, `account_package_id` integer NULL, `account_service_id` integer NULL, `service_id` integer NULL, `invoice_id` integer NULL, CONSTRAINT `charges_account_packages_charges` FOREIGN KEY (`account_package_id`) REFERENCES `account_packages` (`id`) ON DELETE SET NULL, CONSTRAINT `charges_account_services_charges` FOREIGN KEY (`account_service_id`) REFERENCES `account_services` (`id`) ON DELETE SET NULL, CONSTRAINT `charges_services_service` FOREIGN KEY (`service_id`) REFERENCES `services` (`id`) ON DELETE SET NULL, CONSTRAINT `charges_invoices_lines` FOREIGN KEY (`invoice_id`) REFERENCES `invoices` (`id`) ON DELETE SET NULL);
-- Set sequence for "charges" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("charges", 25769803776);
-- Create index "charges_guard_key" to table: "charges"
CREATE UNIQUE INDEX `charges_guard_key` ON `charges` (`guard`);
-- Create "currencies" table
CREATE TABLE `currencies` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `code` text NOT NULL, `name` text NOT NULL, `precision` integer NOT NULL);
-- Set sequence for "currencies" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("currencies", 30064771072);
-- Create index "currencies_code_key" to table: "currencies"
CREATE UNIQUE INDEX `currencies_code_key` ON `currencies` (`code`);
-- Create "invoices" table
CREATE TABLE `invoices` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `number` text NOT NULL, `status` text NOT NULL DEFAULT ('OPEN'), `issue_date` text NOT NULL, `posting_date` text NOT NULL, `total` text NOT NULL, `account_id` integer NOT NULL, `bill_run_id` integer NULL, `currency_id` integer NOT NULL, CONSTRAINT `invoices_accounts_invoices` FOREIGN KEY (`account_id`) REFERENCES `accounts` (`id`) ON DELETE NO ACTION, CONSTRAINT `invoices_bill_runs_invoices` FOREIGN KEY (`bill_run_id`) REFERENCES `bill_runs` (`id`) ON DELETE SET NULL, CONSTRAINT `invoices_currencies_currency` FOREIGN KEY (`currency_id`) REFERENCES `currencies` (`id`) ON DELETE NO ACTION);
-- Set sequence for "invoices" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("invoices", 34359738368);
-- Create index "invoices_number_key" to table: "invoices"
CREATE UNIQUE INDEX `invoices_number_key` ON `invoices` (`number`);
-- Create "package_frequencies" table
CREATE TABLE `package_frequencies` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `interval` text NOT NULL, `interval_count` integer NOT NULL, `package_id` integer NOT NULL, CONSTRAINT `package_frequencies_packages_frequencies` FOREIGN KEY (`package_id`) REFERENCES `packages` (`id`) ON DELETE NO ACTION);
-- Set sequence for "package_frequencies" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("package_frequencies", 38654705664);
-- Create index "packagefrequency_package_id_name" to table: "package_frequencies"
CREATE UNIQUE INDEX `packagefrequency_package_id_name` ON `package_frequencies` (`package_id`, `name`);
-- Create "package_services" table
CREATE TABLE `package_services` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `min_instances` integer NOT NULL, `default_instances` integer NOT NULL, `max_instances` integer NULL, `optional` bool NOT NULL DEFAULT (false), `position` integer NOT NULL DEFAULT (0), `package_id` integer NOT NULL, `service_id` integer NOT NULL, CONSTRAINT `package_services_packages_services` FOREIGN KEY (`package_id`) REFERENCES `packages` (`id`) ON DELETE NO ACTION, CONSTRAINT `package_services_services_service` FOREIGN KEY (`service_id`) REFERENCES `services` (`id`) ON DELETE NO ACTION);
-- Set sequence for "package_services" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("package_services", 42949672960);
-- Create index "packageservice_package_id_service_id" to table: "package_services"
CREATE UNIQUE INDEX `packageservice_package_id_service_id` ON `package_services` (`package_id`, `service_id`);
-- Create "services" table
CREATE TABLE `services` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `description` text NULL, `kind` text NOT NULL);
-- Set sequence for "services" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("services", 47244640256);
-- Create "service_prices" table
CREATE TABLE `service_prices` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `one_time` text NULL, `frequency_id` integer NOT NULL, `service_id` integer NOT NULL, `currency_id` integer NOT NULL, CONSTRAINT `service_prices_package_frequencies_prices` FOREIGN KEY (`frequency_id`) REFERENCES `package_frequencies` (`id`) ON DELETE NO ACTION, CONSTRAINT `service_prices_services_service` FOREIGN KEY (`service_id`) REFERENCES `services` (`id`) ON DELETE NO ACTION, CONSTRAINT `service_prices_currencies_currency` FOREIGN KEY (`currency_id`) REFERENCES `currencies` (`id`) ON DELETE NO ACTION);
-- Set sequence for "service_prices" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("service_prices", 51539607552);
-- Create index "serviceprice_frequency_id_service_id_currency_id" to table: "service_prices"
CREATE UNIQUE INDEX `serviceprice_frequency_id_service_id_currency_id` ON `service_prices` (`frequency_id`, `service_id`, `currency_id`);
-- Create "statuses" table
CREATE TABLE `statuses` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `code` text NOT NULL, `name` text NOT NULL, `billable` bool NOT NULL, `read_only` bool NOT NULL, `builtin` bool NOT NULL DEFAULT (false));
-- Set sequence for "statuses" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("statuses", 55834574848);
-- Create index "statuses_code_key" to table: "statuses"
CREATE UNIQUE INDEX `statuses_code_key` ON `statuses` (`code`);
-- Create "status_prices" table
CREATE TABLE `status_prices` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `amount` text NOT NULL, `account_service_id` integer NULL, `service_price_id` integer NULL, `status_id` integer NOT NULL, CONSTRAINT `status_prices_account_services_price_overrides` FOREIGN KEY (`account_service_id`) REFERENCES `account_services` (`id`) ON DELETE SET NULL, CONSTRAINT `status_prices_service_prices_recurring` FOREIGN KEY (`service_price_id`) REFERENCES `service_prices` (`id`) ON DELETE SET NULL, CONSTRAINT `status_prices_statuses_status` FOREIGN KEY (`status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION);
-- Set sequence for "status_prices" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("status_prices", 60129542144);
-- Create index "statusprice_service_price_id_status_id" to table: "status_prices"
CREATE UNIQUE INDEX `statusprice_service_price_id_status_id` ON `status_prices` (`service_price_id`, `status_id`);
-- Create index "statusprice_account_service_id_status_id" to table: "status_prices"
CREATE UNIQUE INDEX `statusprice_account_service_id_status_id` ON `status_prices` (`account_service_id`, `status_id`);
-- Create "transition_prices" table
CREATE TABLE `transition_prices` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `amount` text NOT NULL, `service_price_id` integer NOT NULL, `from_status_id` integer NOT NULL, `to_status_id` integer NOT NULL, CONSTRAINT `transition_prices_service_prices_transitions` FOREIGN KEY (`service_price_id`) REFERENCES `service_prices` (`id`) ON DELETE NO ACTION, CONSTRAINT `transition_prices_statuses_from` FOREIGN KEY (`from_status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION, CONSTRAINT `transition_prices_statuses_to` FOREIGN KEY (`to_status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION);
-- Set sequence for "transition_prices" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("transition_prices", 64424509440);
-- Create index "transitionprice_service_price_id_from_status_id_to_status_id" to table: "transition_prices"
CREATE UNIQUE INDEX `transitionprice_service_price_id_from_status_id_to_status_id` ON `transition_prices` (`service_price_id`, `from_status_id`, `to_status_id`);
-- Create "catalog_package_currencies" table
CREATE TABLE `catalog_package_currencies` (`catalog_package_id` integer NOT NULL, `currency_id` integer NOT NULL, PRIMARY KEY (`catalog_package_id`, `currency_id`), CONSTRAINT `catalog_package_currencies_catalog_package_id` FOREIGN KEY (`catalog_package_id`) REFERENCES `packages` (`id`) ON DELETE CASCADE, CONSTRAINT `catalog_package_currencies_currency_id` FOREIGN KEY (`currency_id`) REFERENCES `currencies` (`id`) ON DELETE CASCADE);

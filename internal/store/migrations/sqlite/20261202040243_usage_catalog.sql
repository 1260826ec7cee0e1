-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_packages" table
CREATE TABLE `new_packages` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `name_key` text NOT NULL, `description` text NULL, `start_date` text NULL, `expiry_date` text NULL, `one_time_billing` bool NOT NULL DEFAULT (false), `charge_full_period` bool NOT NULL DEFAULT (false), `postpaid` bool NOT NULL DEFAULT (false), `bulk_quantity` bool NOT NULL DEFAULT (false), `charge_recurring_only_if_usage` bool NOT NULL DEFAULT (false), `activation_after_days` integer NULL, `activation_usage_threshold` text NULL, `default_status_id` integer NOT NULL, `activation_service_id` integer NULL, CONSTRAINT `packages_statuses_default_status` FOREIGN KEY (`default_status_id`) REFERENCES `statuses` (`id`) ON DELETE NO ACTION, CONSTRAINT `packages_services_activation_service` FOREIGN KEY (`activation_service_id`) REFERENCES `services` (`id`) ON DELETE SET NULL);
-- Set sequence for "new_packages" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_packages", 21474836480);
-- Copy rows from old table "packages" to new temporary table "new_packages"
INSERT INTO `new_packages` (`id`, `name`, `name_key`, `description`, `start_date`, `expiry_date`, `one_time_billing`, `charge_full_period`, `postpaid`, `bulk_quantity`, `default_status_id`) SELECT `id`, `name`, `name_key`, `description`, `start_date`, `expiry_date`, `one_time_billing`, `charge_full_period`, `postpaid`, `bulk_quantity`, `default_status_id` FROM `packages`;
-- Drop "packages" table after copying rows
DROP TABLE `packages`;
-- Rename temporary table "new_packages" to "packages"
ALTER TABLE `new_packages` RENAME TO `packages`;
-- Create index "packages_name_key_key" to table: "packages"
CREATE UNIQUE INDEX `packages_name_key_key` ON `packages` (`name_key`);
-- Create "new_package_frequencies" table
CREATE TABLE `new_package_frequencies` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `interval` text NOT NULL, `interval_count` integer NOT NULL, `package_id` integer NOT NULL, `rate_plan_id` integer NULL, CONSTRAINT `package_frequencies_packages_frequencies` FOREIGN KEY (`package_id`) REFERENCES `packages` (`id`) ON DELETE NO ACTION, CONSTRAINT `package_frequencies_rate_plans_rate_plan` FOREIGN KEY (`rate_plan_id`) REFERENCES `rate_plans` (`id`) ON DELETE SET NULL);
-- Set sequence for "new_package_frequencies" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_package_frequencies", 38654705664);
-- Copy rows from old table "package_frequencies" to new temporary table "new_package_frequencies"
INSERT INTO `new_package_frequencies` (`id`, `name`, `interval`, `interval_count`, `package_id`) SELECT `id`, `name`, `interval`, `interval_count`, `package_id` FROM `package_frequencies`;
-- Drop "package_frequencies" table after copying rows
DROP TABLE `package_frequencies`;
-- Rename temporary table "new_package_frequencies" to "package_frequencies"
ALTER TABLE `new_package_frequencies` RENAME TO `package_frequencies`;
-- Create index "packagefrequency_package_id_name" to table: "package_frequencies"
CREATE UNIQUE INDEX `packagefrequency_package_id_name` ON `package_frequencies` (`package_id`, `name`);
-- Create "new_package_services" table
CREATE TABLE `new_package_services` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `min_instances` integer NOT NULL, `default_instances` integer NOT NULL, `max_instances` integer NULL, `optional` bool NOT NULL DEFAULT (false), `included` text NULL, `shared` bool NOT NULL DEFAULT (false), `position` integer NOT NULL DEFAULT (0), `package_id` integer NOT NULL, `service_id` integer NOT NULL, CONSTRAINT `package_services_packages_services` FOREIGN KEY (`package_id`) REFERENCES `packages` (`id`) ON DELETE NO ACTION, CONSTRAINT `package_services_services_service` FOREIGN KEY (`service_id`) REFERENCES `services` (`id`) ON DELETE NO ACTION);
-- Set sequence for "new_package_services" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_package_services", 42949672960);
-- Copy rows from old table "package_services" to new temporary table "new_package_services"
INSERT INTO `new_package_services` (`id`, `min_instances`, `default_instances`, `max_instances`, `optional`, `position`, `package_id`, `service_id`) SELECT `id`, `min_instances`, `default_instances`, `max_instances`, `optional`, `position`, `package_id`, `service_id` FROM `package_services`;
-- Drop "package_services" table after copying rows
DROP TABLE `package_services`;
-- Rename temporary table "new_package_services" to "package_services"
ALTER TABLE `new_package_services` RENAME TO `package_services`;
-- Create index "packageservice_package_id_service_id" to table: "package_services"
CREATE UNIQUE INDEX `packageservice_package_id_service_id` ON `package_services` (`package_id`, `service_id`);
-- Create "new_services" table
CREATE TABLE `new_services` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `description` text NULL, `kind` text NOT NULL, `unit` text NULL, `unit_decimals` integer NOT NULL DEFAULT (0));
-- Set sequence for "new_services" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_services", 47244640256);
-- Copy rows from old table "services" to new temporary table "new_services"
INSERT INTO `new_services` (`id`, `name`, `description`, `kind`) SELECT `id`, `name`, `description`, `kind` FROM `services`;
-- Drop "services" table after copying rows
DROP TABLE `services`;
-- Rename temporary table "new_services" to "services"
ALTER TABLE `new_services` RENAME TO `services`;
-- Create "new_service_prices" table
CREATE TABLE `new_service_prices` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `one_time` text NULL, `frequency_id` integer NOT NULL, `service_id` integer NOT NULL, `currency_id` integer NOT NULL, `rate_plan_id` integer NULL, CONSTRAINT `service_prices_package_frequencies_prices` FOREIGN KEY (`frequency_id`) REFERENCES `package_frequencies` (`id`) ON DELETE NO ACTION, CONSTRAINT `service_prices_services_service` FOREIGN KEY (`service_id`) REFERENCES `services` (`id`) ON DELETE NO ACTION, CONSTRAINT `service_prices_currencies_currency` FOREIGN KEY (`currency_id`) REFERENCES `currencies` (`id`) ON DELETE NO ACTION, CONSTRAINT `service_prices_rate_plans_rate_plan` FOREIGN KEY (`rate_plan_id`) REFERENCES `rate_plans` (`id`) ON DELETE SET NULL);
-- Set sequence for "new_service_prices" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_service_prices", 51539607552);
-- Copy rows from old table "service_prices" to new temporary table "new_service_prices"
INSERT INTO `new_service_prices` (`id`, `one_time`, `frequency_id`, `service_id`, `currency_id`) SELECT `id`, `one_time`, `frequency_id`, `service_id`, `currency_id` FROM `service_prices`;
-- Drop "service_prices" table after copying rows
DROP TABLE `service_prices`;
-- Rename temporary table "new_service_prices" to "service_prices"
ALTER TABLE `new_service_prices` RENAME TO `service_prices`;
-- Create index "serviceprice_frequency_id_service_id_currency_id" to table: "service_prices"
CREATE UNIQUE INDEX `serviceprice_frequency_id_service_id_currency_id` ON `service_prices` (`frequency_id`, `service_id`, `currency_id`);
-- Create "rate_plans" table
CREATE TABLE `rate_plans` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `model` text NOT NULL, `tiers` json NOT NULL, `currency_id` integer NOT NULL, CONSTRAINT `rate_plans_currencies_currency` FOREIGN KEY (`currency_id`) REFERENCES `currencies` (`id`) ON DELETE NO ACTION);
-- Set sequence for "rate_plans" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("rate_plans", 94489280512);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
